//! `menon-harness grade`: the conformance grader (PROTOCOL §7).
//!
//! [`crate::cases`] is the catalogue, [`crate::send`] builds and sends deliveries the way
//! the server does, [`crate::engine`] runs the cases and [`crate::judge`] judges them,
//! `receiver` starts a receiver for `grade -- CMD`, and [`crate::report`] writes what
//! happened. This file parses the options and puts them together. Exit status: 0 when no
//! case fails, 1 when one does, 2 when the grader could not run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use menon_harness_common::delivery::SigningScheme;
use menon_harness_common::ids::Secret;
use menon_harness_common::parse_duration;
use menon_webhooks::standard::{PUBLIC_KEY_PREFIX, SIGNING_KEY_PREFIX};

use crate::cases::{self, Selection};
use crate::engine::{self, CaseResult, Progress, Target};
use crate::report::{self, Receiver, Report};
use crate::{receiver, send};

/// The path a receiver started with `grade -- CMD` is graded on, unless `--url` says.
pub const DEFAULT_PATH: &str = "/webhooks/menon";

/// Options of `menon-harness grade`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  menon-harness grade --url http://localhost:3000/webhooks/menon --secret whsec_...
  menon-harness grade --strict --probe /webhooks/menon/processed -- npm start
  menon-harness grade --cases signature/malformed,idempotency --junit grade.xml -- python app.py
  menon-harness grade --scheme standard-v1 --url http://localhost:3000/hooks --secret whsec_...
  menon-harness grade --scheme standard-v1a --url http://localhost:3000/hooks --secret whsk_...

With `-- CMD ARGS` the grader starts the receiver itself on a free loopback port, with the
environment variables PORT and MENON_WEBHOOK_SECRET (a fresh secret unless --secret is
given; with --scheme standard-v1a, the public key whpk_ of the signing key), waits until it
listens, grades http://127.0.0.1:$PORT/webhooks/menon (or --url /path), and stops it. Exit
status: 0 no case failed, 1 a case failed, 2 the grader could not run (receiver
unreachable, bad arguments).")]
pub struct GradeArgs {
    /// The receiver's webhook URL. With `-- CMD`, a path on the started receiver
    /// [default: /webhooks/menon].
    #[arg(long)]
    pub url: Option<String>,
    /// The receiver's signing secret (`whsec_...`); with --scheme standard-v1a, the Ed25519
    /// signing key (`whsk_...`) whose public key (`whpk_...`) the receiver holds. Required
    /// with --url; with `-- CMD`, a fresh one is made unless given, and the receiver gets
    /// it (for standard-v1a, its public key) as MENON_WEBHOOK_SECRET.
    #[arg(long, env = "MENON_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// How the receiver's webhook signs (PROTOCOL §2): `menon` (X-Menon-Signature and -V2),
    /// or Standard Webhooks' `standard-v1` (HMAC, `whsec_`) or `standard-v1a` (Ed25519,
    /// `whsk_`/`whpk_`). Decides the signature cases (see --list).
    #[arg(long, default_value = "menon", value_parser = scheme_parser())]
    pub scheme: SigningScheme,
    /// `GET` URL (or, with `-- CMD`, path) answering
    /// `{"processed": {"<event id>": <times its side effect ran>}}`. Without it the
    /// processed-once cases are skipped.
    #[arg(long)]
    pub probe: Option<String>,
    /// How long the probe may take to show the side effect of an acknowledged event
    /// (work done in the background after the answer), e.g. 5s, 30s.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub probe_wait: Duration,
    /// Run only these cases: comma-separated ids, groups or prefixes
    /// (`signature/malformed`), or globs (`*/valid/listing.*`). See --list.
    #[arg(long, value_name = "PATTERN")]
    pub cases: Option<String>,
    /// Count warnings (SHOULD-level cases, e.g. a stale v2 timestamp accepted) as failures.
    #[arg(long)]
    pub strict: bool,
    /// The fast-200 limit for one answer (and for the p99 of the burst), e.g. 1s, 500ms.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    pub deadline: Duration,
    /// Write the JSON report here (schema: harness/grade-report.schema.json); `-` for
    /// stdout (the verdict table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here (for CI test tabs); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. `$GITHUB_STEP_SUMMARY`); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report here; `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the JSON Schema of the --json report and exit.
    #[arg(long)]
    pub schema: bool,
    /// Print the cases (id, group, what a conforming receiver does) and exit.
    #[arg(long)]
    pub list: bool,
    /// Build every delivery and print what would be sent, without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// With `-- CMD`: how long the receiver may take to start listening.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub startup_timeout: Duration,
    /// Also trust the PEM CA certificate(s) in FILE, for an https receiver whose
    /// certificate a local CA signed (mkcert's, a company CA).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// The receiver to start: `-- npm start`, `-- python app.py`, ...
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `--scheme`: one of the scheme names, listed in `--help`.
fn scheme_parser() -> impl clap::builder::TypedValueParser<Value = SigningScheme> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(SigningScheme::ALL.map(SigningScheme::as_str))
        .map(|name| name.parse().unwrap_or_default())
}

/// A duration greater than zero.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?}: give a duration greater than zero")),
        d => Ok(d),
    }
}

/// The grader could not run (exit status 2).
#[derive(Debug)]
pub struct CannotRun(pub String);

impl std::fmt::Display for CannotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CannotRun {}

/// Runs `grade` and returns its exit status.
pub fn main(args: GradeArgs) -> u8 {
    match run(args) {
        Ok(code) => code,
        Err(CannotRun(message)) => {
            eprintln!("error: {message}");
            2
        }
    }
}

fn run(args: GradeArgs) -> Result<u8, CannotRun> {
    let scheme = args.scheme;
    let catalogue = cases::catalogue(scheme);
    if args.schema {
        print!("{}", report::json_schema().map_err(CannotRun)?);
        return Ok(0);
    }
    if args.list {
        print!("{}", list(&catalogue));
        return Ok(0);
    }
    let selection = Selection::parse(args.cases.as_deref());
    let unmatched = selection.unmatched(&catalogue);
    if !unmatched.is_empty() {
        let list = match scheme {
            SigningScheme::Menon => String::from("menon-harness grade --list"),
            _ => format!("menon-harness grade --list --scheme {scheme}"),
        };
        return Err(CannotRun(format!(
            "--cases {} selects no case (see `{list}`)",
            unmatched.join(", ")
        )));
    }
    let spawn = !args.command.is_empty();
    let fresh = || {
        menon_harness_common::ids::webhook_secret(scheme)
            .map(|s| s.expose().to_owned())
            .map_err(|e| CannotRun(e.to_string()))
    };
    let secret = match (&args.secret, spawn) {
        (Some(s), _) if s.trim().is_empty() => {
            return Err(CannotRun("--secret is empty".into()));
        }
        (Some(s), _) => {
            check_secret(scheme, s)?;
            s.clone()
        }
        (None, true) => fresh()?,
        (None, false) if args.dry_run && scheme == SigningScheme::Menon => {
            String::from("whsec_dry_run_secret_not_used_for_sending")
        }
        (None, false) if args.dry_run => fresh()?,
        (None, false) => {
            return Err(CannotRun(
                "--secret (or MENON_WEBHOOK_SECRET) is required with --url".into(),
            ))
        }
    };
    if !spawn && args.url.is_none() {
        return Err(CannotRun(
            "say which receiver to grade: --url URL --secret SECRET, or `-- CMD ARGS` to start it"
                .into(),
        ));
    }

    if args.dry_run {
        if let Some((flag, _)) = report_paths(&args).next() {
            return Err(CannotRun(format!(
                "--dry-run sends nothing and so writes no report: drop {flag}"
            )));
        }
    }
    let to_stdout: Vec<&str> = report_paths(&args)
        .filter(|(_, path)| is_stdout(path))
        .map(|(flag, _)| flag)
        .collect();
    if to_stdout.len() > 1 {
        return Err(CannotRun(format!(
            "{} all ask for stdout (`-`): one report at a time can go there; give the \
             others a file",
            to_stdout.join(" and ")
        )));
    }
    for (flag, path) in report_paths(&args).filter(|(_, path)| !is_stdout(path)) {
        check_writable(flag, path)?;
    }
    let client = send::Client::new(args.ca_cert.as_deref()).map_err(CannotRun)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CannotRun(format!("cannot start the async runtime: {e}")))?;
    // Ctrl-C or SIGTERM at any point stops the receiver the grader started (Drop), and
    // ends the run with exit status 2.
    runtime.block_on(async {
        tokio::select! {
            result = grade(args, selection, secret, client) => result,
            () = menon_harness_common::shutdown_signal() => Err(CannotRun(
                "interrupted; the receiver the grader started (if any) was stopped".into(),
            )),
        }
    })
}

async fn grade(
    args: GradeArgs,
    selection: Selection,
    secret: String,
    client: send::Client,
) -> Result<u8, CannotRun> {
    let spawn = !args.command.is_empty();
    let mut started = None;
    let base = if spawn && !args.dry_run {
        // What the receiver holds: the secret, or for standard-v1a the signing key's
        // public key.
        let held =
            menon_harness_common::delivery::public_key(args.scheme, &Secret::new(secret.clone()))
                .unwrap_or_else(|| secret.clone());
        let mut receiver = receiver::Spawned::start(&args.command, &held).map_err(CannotRun)?;
        if !args.quiet {
            eprintln!(
                "started `{}` on port {}; waiting until it listens…",
                args.command.join(" "),
                receiver.port
            );
        }
        let base = match receiver.wait_until_listening(args.startup_timeout).await {
            Ok(base) => base,
            Err(e) => {
                receiver.stop(Duration::from_secs(2));
                return Err(CannotRun(e));
            }
        };
        started = Some(receiver);
        Some(base)
    } else if spawn {
        Some(String::from("http://127.0.0.1:$PORT"))
    } else {
        None
    };
    let resolve = |given: Option<&str>, default: Option<&str>| -> Option<String> {
        let given = given.or(default)?;
        Some(match (&base, given.starts_with('/')) {
            (Some(base), true) => format!("{base}{given}"),
            _ => given.to_owned(),
        })
    };
    let url = resolve(args.url.as_deref(), Some(DEFAULT_PATH)).unwrap_or_default();
    let probe = resolve(args.probe.as_deref(), None);
    for (flag, value) in [("--url", Some(&url)), ("--probe", probe.as_ref())] {
        if let Some(value) = value {
            check_url(flag, value, args.dry_run)?;
        }
    }
    if !args.dry_run {
        client.preflight(&url).await.map_err(|e| {
            CannotRun(format!(
                "the receiver at {url} is unreachable ({e}); is it running? (or let the grader \
                 start it: menon-harness grade -- CMD ARGS){}",
                started.as_ref().map(|r| r.tail(20)).unwrap_or_default()
            ))
        })?;
    }

    let target = Target {
        url: url.clone(),
        secret,
        probe: probe.clone(),
        deadline: args.deadline,
        probe_wait: args.probe_wait,
        dry_run: args.dry_run,
    };
    if args.dry_run {
        let built = Arc::new(engine::Counter::default());
        let results = engine::run(client, &target, args.scheme, &selection, built.clone())
            .await
            .map_err(CannotRun)?;
        print!("{}", dry_run(&results, built.count()));
        return Ok(0);
    }
    let receiver = Receiver {
        url,
        probe,
        command: spawn.then(|| args.command.clone()),
    };
    let outcome = graded_with_scheme(
        client,
        &target,
        args.scheme,
        &selection,
        receiver,
        args.strict,
        args.quiet,
    )
    .await;
    let tail = started.as_ref().map(|r| r.tail(30)).unwrap_or_default();
    if let Some(receiver) = started {
        receiver.stop(Duration::from_secs(5));
    }
    let report = outcome.map_err(CannotRun)?;
    // The table first: a report file that cannot be written must not hide the verdicts.
    // It goes to stderr when a report takes stdout, which then holds that report alone.
    if report_paths(&args).any(|(_, path)| is_stdout(path)) {
        eprint!(
            "{}",
            report::terminal::render(&report, console::colors_enabled_stderr())
        );
    } else {
        print!(
            "{}",
            report::terminal::render(&report, console::colors_enabled())
        );
    }
    if report.summary.fail > 0 && !tail.is_empty() {
        eprintln!("{tail}");
    }
    write_reports(&args, &report)?;
    Ok(report.summary.exit_code)
}

/// Runs the selected cases against `target` with a progress bar (unless `quiet`) and
/// builds the report: what `grade` and `demo` share. The deliveries are signed the
/// `menon` way; [`graded_with_scheme`] chooses.
pub async fn graded(
    client: send::Client,
    target: &Target,
    selection: &Selection,
    receiver: Receiver,
    strict: bool,
    quiet: bool,
) -> Result<Report, String> {
    let scheme = SigningScheme::Menon;
    graded_with_scheme(client, target, scheme, selection, receiver, strict, quiet).await
}

/// [`graded`], with the deliveries signed the `scheme` way (and that scheme's cases).
pub async fn graded_with_scheme(
    client: send::Client,
    target: &Target,
    scheme: SigningScheme,
    selection: &Selection,
    receiver: Receiver,
    strict: bool,
    quiet: bool,
) -> Result<Report, String> {
    let bar = progress_bar(engine::planned_requests(selection, scheme).await?, quiet);
    let clock = Instant::now();
    let started_at = menon_webhooks::format_rfc3339(menon_harness_common::now_unix());
    let results = engine::run(client, target, scheme, selection, Arc::new(bar.clone())).await;
    bar.0.finish_and_clear();
    Ok(Report::build(
        receiver,
        scheme,
        started_at,
        clock.elapsed(),
        strict,
        target.deadline,
        results?,
    ))
}

/// Refuses a `--secret` that cannot sign `scheme`'s deliveries, saying what to pass.
fn check_secret(scheme: SigningScheme, secret: &str) -> Result<(), CannotRun> {
    use menon_webhooks::standard::StandardKey;
    let text = secret.trim();
    let public = text.starts_with(PUBLIC_KEY_PREFIX);
    let signing = text.starts_with(SIGNING_KEY_PREFIX);
    let problem = match scheme {
        SigningScheme::Menon if public || signing => Some(format!(
            "--secret is a Standard Webhooks Ed25519 key ({}), and --scheme menon signs with the \
             receiver's whsec_ secret: to grade a standard-v1a receiver pass --scheme \
             standard-v1a --secret whsk_... (the signing key of the receiver's whpk_ public key)",
            if public { "whpk_" } else { "whsk_" }
        )),
        SigningScheme::Menon => None,
        SigningScheme::StandardV1 if public || signing => Some(format!(
            "--secret is an Ed25519 {} key ({}), which standard-v1a uses; --scheme standard-v1 \
             signs with the receiver's HMAC secret: pass --secret whsec_<base64>, or grade a \
             standard-v1a receiver with --scheme standard-v1a --secret whsk_...",
            if public { "public" } else { "signing" },
            if public { "whpk_" } else { "whsk_" }
        )),
        SigningScheme::StandardV1 => StandardKey::parse(text).err().map(|e| {
            format!(
                "--secret is not a Standard Webhooks secret ({}): --scheme standard-v1 signs \
                 with the receiver's secret, whsec_ followed by the standard base64 of its key",
                key_problem(&e)
            )
        }),
        SigningScheme::StandardV1a if public => Some(String::from(
            "--secret is a public key (whpk_), which only verifies; the grader signs, so \
             --scheme standard-v1a needs the signing key: pass --secret whsk_... (the key whose \
             public key the receiver holds), or use `-- CMD` without --secret and the grader \
             makes a key pair and gives the receiver the whpk_",
        )),
        SigningScheme::StandardV1a if signing => StandardKey::parse(text).err().map(|e| {
            format!(
                "--secret is not a usable whsk_ signing key ({}): pass the whsk_ key whose \
                     whpk_ public key the receiver holds",
                key_problem(&e)
            )
        }),
        SigningScheme::StandardV1a => Some(String::from(
            "--scheme standard-v1a signs with an Ed25519 signing key: pass --secret whsk_... \
             (the key whose whpk_ public key the receiver holds); a whsec_ secret is for \
             --scheme standard-v1 or menon",
        )),
    };
    problem.map_or(Ok(()), |p| Err(CannotRun(p)))
}

/// What is wrong with a key the core could not read, in a few words.
fn key_problem(e: &menon_webhooks::VerifyError) -> String {
    match e {
        menon_webhooks::VerifyError::InvalidSecret { reason } => (*reason).to_owned(),
        other => other.code().to_owned(),
    }
}

fn report_paths(args: &GradeArgs) -> impl Iterator<Item = (&'static str, &PathBuf)> {
    [
        ("--json", args.json.as_ref()),
        ("--junit", args.junit.as_ref()),
        ("--markdown", args.markdown.as_ref()),
        ("--html", args.html.as_ref()),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.map(|p| (flag, p)))
}

/// Refuses, before anything is sent, a report path that cannot be written.
fn check_writable(flag: &str, path: &std::path::Path) -> Result<(), CannotRun> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            CannotRun(format!(
                "{flag} {}: cannot create {}: {e}",
                path.display(),
                dir.display()
            ))
        })?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|e| CannotRun(format!("{flag} {}: cannot write it: {e}", path.display())))
}

/// `-`: the report goes to stdout.
fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes the reports asked for (to stdout for `-`) and names the files on stderr.
fn write_reports(args: &GradeArgs, report: &Report) -> Result<(), CannotRun> {
    for (flag, path) in report_paths(args) {
        let (kind, text) = match flag {
            "--json" => ("JSON", report.to_json()),
            "--junit" => ("JUnit", report::junit::render(report)),
            "--markdown" => ("Markdown", Ok(report::markdown::render(report))),
            _ => ("HTML", report::html::render(report)),
        };
        let text = text.map_err(CannotRun)?;
        if is_stdout(path) {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| CannotRun(format!("cannot write the {kind} report to stdout: {e}")))?;
            continue;
        }
        report::write_file(path, &text).map_err(CannotRun)?;
        if !args.quiet {
            eprintln!("{kind} report written to {}", path.display());
        }
    }
    Ok(())
}

fn check_url(flag: &str, value: &str, dry_run: bool) -> Result<(), CannotRun> {
    if dry_run && value.contains("$PORT") {
        return Ok(());
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(CannotRun(format!(
            "{flag} {value}: use an http:// or https:// URL (not {}:)",
            u.scheme()
        ))),
        Err(e) => Err(CannotRun(format!(
            "{flag} {value} is not a URL ({e}); with `-- CMD` a path such as /webhooks/menon works too"
        ))),
    }
}

/// The grader's progress bar (one tick per request).
#[derive(Clone)]
struct Bar(ProgressBar);

impl Progress for Bar {
    fn tick(&self) {
        self.0.inc(1);
    }
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
fn progress_bar(total: u64, hidden: bool) -> Bar {
    if hidden {
        return Bar(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} grading [{bar:30}] {pos}/{len} requests {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    Bar(bar)
}

fn list(catalogue: &[cases::Case]) -> String {
    let width = catalogue
        .iter()
        .map(|c| c.id.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in catalogue {
        out.push_str(&format!(
            "{:<width$}  {:<6}  {}\n",
            c.id,
            c.tier.as_str(),
            c.expect
        ));
    }
    out.push_str(&format!("\n{} cases\n", catalogue.len()));
    out
}

fn dry_run(results: &[CaseResult], total: u64) -> String {
    let mut out = String::new();
    for c in results {
        out.push_str(&format!("{}  ({} request(s))\n", c.case.id, c.requests));
        if let Some(e) = c.exchanges.first() {
            out.push_str(&format!(
                "  {} {}  {} bytes\n",
                e.request.method, e.request.url, e.request.body_bytes
            ));
            for h in &e.request.headers {
                out.push_str(&format!("    {}: {}\n", h.name, h.value));
            }
        }
    }
    out.push_str(&format!(
        "\ndry run: {} cases, {total} requests built, none sent\n",
        results.len()
    ));
    out
}
