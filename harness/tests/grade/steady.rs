//! Steady verdicts (issue 20): grading the same receiver again gives the same verdicts.
//! The example receivers and every receiver of the zoo are graded run after run, and any
//! verdict (or exit status) that differs from the receiver's first run fails the test,
//! with every difference and its reasons.
//!
//! How many runs: `MENON_SOAK=1` grades each receiver 20 times. Otherwise (CI) the
//! receivers are graded in rounds while the time lasts: about a minute per example
//! receiver, a minute for the whole zoo (`MENON_STEADY_SECONDS`, default 60), never fewer
//! than 2 rounds and never more than 20: the clock decides how many runs there are, never
//! a verdict. The fast-200 deadline is the loaded-machine one (5 s) and
//! probe waits are generous where work is slow, so a busy machine slows the runs down
//! without changing what they find.
//!
//! The Node and Python examples need what `examples/test.sh` installs (the JS package and
//! `node_modules`, the Python venv with the SDK's wheel): they are graded with
//! `MENON_STEADY_EXAMPLES=all` (and under `MENON_SOAK=1`), and then their absence fails
//! the test naming that script. Without it the examples test grades the Rust example
//! alone, which is always built (the harness depends on it). Each receiver's grade times
//! are printed (`-- --nocapture`); BENCHMARKS.md records them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    grade_receiver_with, grader_key, start, start_standard, Defect, StdDefect, LOADED_DEADLINE,
    SCHEMES, SECRET,
};

/// Runs per receiver under `MENON_SOAK=1`, and the most in any run.
const SOAK_RUNS: usize = 20;

/// How many runs each receiver gets.
#[derive(Debug, Clone, Copy)]
struct Budget {
    soak: bool,
    time: Duration,
}

impl Budget {
    fn from_env() -> Self {
        let soak = std::env::var("MENON_SOAK").is_ok_and(|v| v == "1");
        let seconds = std::env::var("MENON_STEADY_SECONDS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60);
        Self {
            soak,
            time: Duration::from_secs(seconds),
        }
    }

    /// The budget of `n` receivers graded one after the other: `n` times as long.
    fn times(self, n: usize) -> Self {
        Self {
            time: self.time * u32::try_from(n.max(1)).unwrap_or(1),
            ..self
        }
    }

    /// Whether another round follows `done` rounds begun at `started`.
    fn another(&self, done: usize, started: Instant) -> bool {
        if self.soak {
            return done < SOAK_RUNS;
        }
        // Another round only when one more (as long as the average so far) still ends
        // within the time.
        let elapsed = started.elapsed();
        let average = elapsed / u32::try_from(done.max(1)).unwrap_or(1);
        done < 2 || (done < SOAK_RUNS && elapsed + average <= self.time)
    }
}

/// One receiver to grade again and again.
struct Subject {
    label: String,
    addr: SocketAddr,
    secret: String,
    /// Flags after `--url`, `--secret`, `--probe`, `--json`.
    flags: Vec<String>,
    /// The first run's exit status and verdicts; every later run must equal them.
    first: Option<(i32, BTreeMap<String, String>)>,
    /// What differed, run by run.
    changes: Vec<String>,
    /// Wall time of each `grade` run, in seconds.
    times: Vec<f64>,
    /// Whether every run must pass `--strict` (the examples).
    must_pass: bool,
}

impl Subject {
    fn new(label: impl Into<String>, addr: SocketAddr, secret: &str, flags: &[&str]) -> Self {
        let mut all: Vec<String> = vec!["--deadline".into(), LOADED_DEADLINE.into()];
        all.extend(flags.iter().map(|f| String::from(*f)));
        Self {
            label: label.into(),
            addr,
            secret: secret.to_owned(),
            flags: all,
            first: None,
            changes: Vec::new(),
            times: Vec::new(),
            must_pass: false,
        }
    }

    /// Grades once and notes what differs from the first run.
    async fn grade(&mut self) {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let started = Instant::now();
        let (code, verdicts, report) = grade_receiver_with(self.addr, &self.secret, &flags).await;
        self.times.push(started.elapsed().as_secs_f64());
        let run = self.times.len();
        if self.must_pass && (code != 0 || verdicts.values().any(|v| v != "pass")) {
            self.changes.push(format!(
                "run {run}: not every case passed --strict: {}",
                not_passing(&verdicts, &report)
            ));
        }
        let Some((first_code, first)) = &self.first else {
            self.first = Some((code, verdicts));
            return;
        };
        if code != *first_code {
            self.changes
                .push(format!("run {run}: exit status {first_code} → {code}"));
        }
        for (id, verdict) in &verdicts {
            let before = first.get(id).map_or("(absent)", String::as_str);
            if before != verdict {
                self.changes.push(format!(
                    "run {run}: {id}: {before} → {verdict} ({})",
                    reason_of(&report, id)
                ));
            }
        }
        if verdicts.len() != first.len() {
            self.changes.push(format!(
                "run {run}: {} cases, the first run had {}",
                verdicts.len(),
                first.len()
            ));
        }
    }

    /// `label: N runs, median … s (min–max)`.
    fn timing(&self) -> String {
        let mut times = self.times.clone();
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        format!(
            "{:<44} {:>2} runs, median {:.2} s ({:.2}–{:.2} s)",
            self.label,
            times.len(),
            median,
            times.first().copied().unwrap_or_default(),
            times.last().copied().unwrap_or_default()
        )
    }
}

fn reason_of(report: &Value, id: &str) -> String {
    report["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["id"] == id))
        .map(|c| c["reason"].to_string())
        .unwrap_or_default()
}

fn not_passing(verdicts: &BTreeMap<String, String>, report: &Value) -> String {
    verdicts
        .iter()
        .filter(|(_, v)| v.as_str() != "pass")
        .map(|(id, v)| format!("{id}: {v} ({})", reason_of(report, id)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Grades every subject in rounds, at most `parallel` at a time (each subject by one
/// grader at a time), until the budget says stop; then prints the times and fails on
/// any change.
async fn grade_in_rounds(subjects: Vec<Subject>, parallel: usize, budget: Budget) -> Vec<Subject> {
    let started = Instant::now();
    let mut subjects: Vec<Option<Subject>> = subjects.into_iter().map(Some).collect();
    let mut rounds = 0;
    while budget.another(rounds, started) {
        let mut running = tokio::task::JoinSet::new();
        let mut next = 0;
        let mut finished: Vec<(usize, Subject)> = Vec::new();
        while next < subjects.len() || !running.is_empty() {
            while next < subjects.len() && running.len() < parallel {
                if let Some(mut subject) = subjects[next].take() {
                    running.spawn(async move {
                        subject.grade().await;
                        (next, subject)
                    });
                }
                next += 1;
            }
            if let Some(done) = running.join_next().await {
                finished.push(done.unwrap());
            }
        }
        for (at, subject) in finished {
            subjects[at] = Some(subject);
        }
        rounds += 1;
    }
    let subjects: Vec<Subject> = subjects.into_iter().map(Option::unwrap).collect();
    eprintln!(
        "steady verdicts: {rounds} rounds in {:.0} s ({})",
        started.elapsed().as_secs_f64(),
        if budget.soak {
            String::from("MENON_SOAK=1")
        } else {
            format!("budget {} s", budget.time.as_secs())
        }
    );
    for subject in &subjects {
        eprintln!("  {}", subject.timing());
    }
    let changes: Vec<String> = subjects
        .iter()
        .flat_map(|s| s.changes.iter().map(move |c| format!("{}: {c}", s.label)))
        .collect();
    assert!(
        changes.is_empty(),
        "verdicts changed between runs:\n{}",
        changes.join("\n")
    );
    subjects
}

/// How a zoo receiver is graded: the flags beyond the loaded deadline (a generous probe
/// wait where the work is slow, a short one where nothing is ever processed: the
/// processed-once verdict is then `fail` however long the grader waits), and whether it
/// is graded in CI's rounds or only under `MENON_SOAK=1`: the receivers slow by
/// construction (each run of them takes 10 s or more: 400 ms before each first answer,
/// 3 s of background work, answers held past the 10 s delivery timeout) would leave the
/// others one run within a minute. A receiver whose defect depends on what it saw in
/// earlier runs is graded on the cases where that does not change the verdict.
struct Plan {
    flags: &'static [&'static str],
    soak_only: bool,
}

/// Exhaustive on purpose: a new defect must say how it is graded here.
const fn zoo_plan(defect: Defect) -> Plan {
    const NEVER_PROCESSED: &[&str] = &["--probe-wait", "300ms"];
    let (flags, soak_only): (&'static [&'static str], bool) = match defect {
        // It holds every 25th delivery it verified since it started, so across runs of
        // the whole suite a different case's delivery is held each time; the burst alone
        // (100 deliveries) has 4 held every run.
        Defect::HoldsSomeAnswers => (&["--cases", "fast-200/burst"], true),
        Defect::SlowWorkFirst => (&[], true),
        Defect::SlowBackgroundWork => (&["--probe-wait", "30s"], true),
        Defect::ReserializesWithSpaces
        | Defect::WrongHeader
        | Defect::NotFoundToEveryPost
        | Defect::MethodNotAllowedToEveryPost => (NEVER_PROCESSED, false),
        Defect::None
        | Defect::AcceptsAnything
        | Defect::ReserializesEnsureAscii
        | Defect::ProcessesDuplicates
        | Defect::ConflictOnDuplicate
        | Defect::ErrorOnDuplicate
        | Defect::ErrorOnUnknownType
        | Defect::SmallBodyLimit
        | Defect::AcceptsMissingSignature
        | Defect::PrefixCompare
        | Defect::AcceptsEmptyV2
        | Defect::SheddingLoad
        | Defect::RefusesTestDeliveries
        | Defect::ErrorOnBadSignature
        | Defect::RedirectsAfterHandling
        | Defect::ProbeErrors
        | Defect::ProbeAnswersHtml
        | Defect::ProbeOfAnotherShape
        | Defect::ProbeCountsAsText
        | Defect::FirstV2EntryOnly
        | Defect::ChecksV1Only
        | Defect::CaseSensitiveHeaders
        | Defect::StrictDataSchema
        | Defect::UpdateBeforeCreateErrors => (&[], false),
    };
    Plan { flags, soak_only }
}

/// [`zoo_plan`]'s `soak_only` for the Standard Webhooks receivers.
const fn standard_soak_only(defect: StdDefect) -> bool {
    match defect {
        StdDefect::SlowAnswer => true,
        StdDefect::None
        | StdDefect::AcceptsAnySignature
        | StdDefect::IgnoresTimestamp
        | StdDefect::FirstEntryOnly
        | StdDefect::VerifiesEnvelopeId
        | StdDefect::DedupesOnDelivery
        | StdDefect::ErrorOnUnknownType => false,
    }
}

const ZOO: [Defect; 31] = [
    Defect::None,
    Defect::AcceptsAnything,
    Defect::ReserializesWithSpaces,
    Defect::ReserializesEnsureAscii,
    Defect::WrongHeader,
    Defect::ProcessesDuplicates,
    Defect::ConflictOnDuplicate,
    Defect::ErrorOnDuplicate,
    Defect::SlowWorkFirst,
    Defect::ErrorOnUnknownType,
    Defect::SmallBodyLimit,
    Defect::AcceptsMissingSignature,
    Defect::SlowBackgroundWork,
    Defect::PrefixCompare,
    Defect::AcceptsEmptyV2,
    Defect::SheddingLoad,
    Defect::RefusesTestDeliveries,
    Defect::ErrorOnBadSignature,
    Defect::RedirectsAfterHandling,
    Defect::NotFoundToEveryPost,
    Defect::MethodNotAllowedToEveryPost,
    Defect::ProbeErrors,
    Defect::ProbeAnswersHtml,
    Defect::ProbeOfAnotherShape,
    Defect::ProbeCountsAsText,
    Defect::HoldsSomeAnswers,
    Defect::FirstV2EntryOnly,
    Defect::ChecksV1Only,
    Defect::CaseSensitiveHeaders,
    Defect::StrictDataSchema,
    Defect::UpdateBeforeCreateErrors,
];

const STANDARD_ZOO: [StdDefect; 8] = [
    StdDefect::None,
    StdDefect::AcceptsAnySignature,
    StdDefect::IgnoresTimestamp,
    StdDefect::FirstEntryOnly,
    StdDefect::VerifiesEnvelopeId,
    StdDefect::DedupesOnDelivery,
    StdDefect::SlowAnswer,
    StdDefect::ErrorOnUnknownType,
];

/// Every receiver of the zoo (the Menon defects and, for each Standard Webhooks scheme,
/// the Standard ones; in CI, those not slow by construction), graded four at a time: no
/// verdict changes.
#[tokio::test(flavor = "multi_thread")]
async fn the_zoo_grades_the_same_every_run() {
    let budget = Budget::from_env();
    let mut subjects = Vec::new();
    for defect in ZOO {
        let plan = zoo_plan(defect);
        if plan.soak_only && !budget.soak {
            continue;
        }
        let addr = start(defect).await;
        subjects.push(Subject::new(
            format!("zoo {defect:?}"),
            addr,
            SECRET,
            plan.flags,
        ));
    }
    for scheme in SCHEMES {
        for defect in STANDARD_ZOO {
            if standard_soak_only(defect) && !budget.soak {
                continue;
            }
            let addr = start_standard(scheme, defect).await;
            subjects.push(Subject::new(
                format!("zoo {scheme} {defect:?}"),
                addr,
                &grader_key(scheme),
                &["--scheme", scheme.as_str()],
            ));
        }
    }
    grade_in_rounds(subjects, 4, budget).await;
}

/// An example receiver run as a process of its own, stopped (SIGTERM, then SIGKILL)
/// when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv `examples/test.sh` made for the Python example (the newest complete one), or
/// `MENON_EXAMPLE_PYTHON`.
fn example_python() -> Option<PathBuf> {
    if let Ok(python) = std::env::var("MENON_EXAMPLE_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?
        .join("menon-webhooks");
    let mut venvs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("venv-example-fastapi-"))
                && p.join(".complete").is_file()
                && p.join(".sdk-hash").is_file()
        })
        .filter_map(|p| Some((p.join(".sdk-hash").metadata().ok()?.modified().ok()?, p)))
        .collect();
    venvs.sort();
    venvs.pop().map(|(_, p)| p.join("bin/python"))
}

/// Starts `program args` in `dir` with `PORT` and `MENON_WEBHOOK_SECRET` (and `env`), and
/// waits until it listens.
async fn start_example(
    dir: &Path,
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (Process, SocketAddr) {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PORT", addr.port().to_string())
        .env("MENON_WEBHOOK_SECRET", SECRET)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let process = Process(child);
    // Startup (Python imports, Node's module graph) on a loaded machine: only a hang
    // takes a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {addr} within 60 s",
            program.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (process, addr)
}

/// The example receivers pass `--strict` on every run, with the same verdicts: the Rust
/// example always, Node/Express and Python/FastAPI with `MENON_STEADY_EXAMPLES=all` or
/// `MENON_SOAK=1` (see the module's documentation).
#[tokio::test(flavor = "multi_thread")]
async fn the_examples_grade_the_same_every_run() {
    let budget = Budget::from_env();
    let flags = ["--strict", "--probe-wait", "30s"];
    let mut subjects = Vec::new();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(menon_example_receiver::serve(
        listener,
        SECRET.into(),
        std::future::pending(),
    ));
    let mut rust = Subject::new("examples/rust-axum (in process)", addr, SECRET, &flags);
    rust.must_pass = true;
    subjects.push(rust);

    let all = budget.soak || std::env::var("MENON_STEADY_EXAMPLES").is_ok_and(|v| v == "all");
    let mut processes = Vec::new();
    let scratch = tempfile::tempdir().unwrap();
    if all {
        let examples = repo().join("examples");
        let node_dir = examples.join("node-express");
        let ready = node_dir.join("node_modules/.menon-lock-hash").is_file()
            && repo().join("bindings/js/dist/node.cjs").is_file();
        assert!(
            ready,
            "the Node example is not installed: run examples/test.sh first (it builds \
             bindings/js and runs npm ci in examples/node-express)"
        );
        let (process, addr) =
            start_example(&node_dir, Path::new("node"), &["server.js"], &[]).await;
        processes.push(process);
        let mut node = Subject::new(
            "examples/node-express (node server.js)",
            addr,
            SECRET,
            &flags,
        );
        node.must_pass = true;
        subjects.push(node);

        let python = example_python().filter(|p| p.is_file()).unwrap_or_else(|| {
            panic!(
                "the Python example's venv is missing: run examples/test.sh first (it makes \
                 it under ~/.cache/menon-webhooks), or set MENON_EXAMPLE_PYTHON"
            )
        });
        let database = scratch.path().join("python-fastapi.db");
        let (process, addr) = start_example(
            &examples.join("python-fastapi"),
            &python,
            &["main.py"],
            &[("DATABASE", database.display().to_string())],
        )
        .await;
        processes.push(process);
        let mut fastapi = Subject::new(
            "examples/python-fastapi (python main.py)",
            addr,
            SECRET,
            &flags,
        );
        fastapi.must_pass = true;
        subjects.push(fastapi);
    }
    // One receiver at a time: each example's grade time is its own.
    let budget = budget.times(subjects.len());
    grade_in_rounds(subjects, 1, budget).await;
    drop(processes);
}
