//! What the grade tests share: the binary, the secret, running `menon-harness grade`
//! and reading its verdicts, the `check` of a defect's failing cases, and watching
//! processes.

mod receiver;
mod standard;
pub mod wire;

pub use receiver::{closed_port, start, start_running, Defect, HELD_EVERY};
pub use standard::{grader_key, receiver_key, start_standard, StdDefect, SCHEMES, V1_SECRET};

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::EventType;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_menon-harness");

pub const SECRET: &str = "whsec_graderProofSecret0123456789abcdefABCD";

/// Cases in the catalogue (`grade --list`).
pub const CASES: usize = 49;

/// Cases of a Standard Webhooks run (`grade --list --scheme standard-v1`).
pub const STANDARD_CASES: usize = 45;

/// The fast-200 deadline for runs that are not about speed: generous enough that a
/// loaded 2-core machine (the grader, the receivers and other tests sharing it) answers
/// within it, so those cases fail only for a refusal or a timeout. (The default, 1 s, is
/// a speed target; `slow_work_before_answering_fails_fast_200` tests that the deadline is
/// enforced.)
pub const LOADED_DEADLINE: &str = "5s";

/// Bounds a wait for something that takes moments on an idle machine: only a hang gets
/// there.
pub const HANG: Duration = Duration::from_secs(30);

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs the grader binary off the async runtime.
pub async fn grade(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("grade")
            .args(&args)
            .env_remove("MENON_WEBHOOK_SECRET")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Grades the receiver at `addr` and returns `(exit status, verdict per case id, report)`.
pub async fn grade_receiver(
    addr: SocketAddr,
    extra: &[&str],
) -> (i32, BTreeMap<String, String>, Value) {
    grade_receiver_with(addr, SECRET, extra).await
}

/// [`grade_receiver`] with `--secret secret`.
pub async fn grade_receiver_with(
    addr: SocketAddr,
    secret: &str,
    extra: &[&str],
) -> (i32, BTreeMap<String, String>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let mut args: Vec<String> = vec![
        "--quiet".into(),
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--secret".into(),
        secret.into(),
        "--probe".into(),
        format!("http://{addr}/webhooks/menon/processed"),
        "--json".into(),
        json_path.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| String::from(*s)));
    let out = grade(args).await;
    let code = out.status.code().unwrap_or(-1);
    let text = std::fs::read_to_string(&json_path).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report: Value = serde_json::from_str(&text).unwrap();
    let verdicts = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (code, verdicts, report)
}

/// Grades `http://{addr}{path}` (no probe) with `extra` flags; returns the process output
/// and the JSON report.
pub async fn grade_with_json(addr: SocketAddr, path: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("r.json");
    let mut args: Vec<String> = vec![
        "--quiet".into(),
        "--url".into(),
        format!("http://{addr}{path}"),
        "--secret".into(),
        SECRET.into(),
        "--json".into(),
        json_path.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| String::from(*s)));
    let out = grade(args).await;
    let report = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    (out, report)
}

/// The fixture event types whose `data` has a non-ASCII character.
pub fn non_ascii_types() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events");
    EventType::ALL
        .iter()
        .filter(|t| {
            let text = std::fs::read_to_string(dir.join(format!("{t}.json"))).unwrap();
            !text.is_ascii()
        })
        .map(|t| t.to_string())
        .collect()
}

pub fn all_valid_deliveries() -> Vec<String> {
    let mut ids: Vec<String> = EventType::ALL
        .iter()
        .map(|t| format!("signature/valid/{t}"))
        .collect();
    ids.extend(
        [
            "signature/non-ascii",
            "signature/large-body",
            "signature/rotation/good-first",
            "signature/rotation/good-second",
            "signature/header-case",
            "idempotency/sequential/acknowledged",
            "idempotency/sequential/processed-once",
            "idempotency/concurrent/acknowledged",
            "idempotency/concurrent/processed-once",
            "idempotency/redelivery/acknowledged",
            "idempotency/redelivery/processed-once",
            "robustness/unknown-event-type",
            "robustness/test-event",
            "robustness/extra-fields",
            "robustness/out-of-order",
            "fast-200/burst",
        ]
        .map(String::from),
    );
    ids
}

/// Grades a receiver with `defect` and checks that exactly `failing` fail (and
/// `warning` warn) while every other case passes. Unless `extra` sets `--deadline`, the
/// fast-200 deadline is [`LOADED_DEADLINE`]: a defect that is not about speed must not
/// fail those cases because the machine is busy. Returns the JSON report.
pub async fn check(defect: Defect, failing: &[String], warning: &[&str], extra: &[&str]) -> Value {
    let addr = start(defect).await;
    let graded = Graded {
        label: format!("{defect:?}"),
        addr,
        secret: SECRET.into(),
        cases: CASES,
    };
    graded.check(failing, warning, extra).await
}

/// [`check`] for a Standard Webhooks receiver of `scheme` with `defect`, graded with
/// `--scheme`.
pub async fn check_standard(
    scheme: SigningScheme,
    defect: StdDefect,
    failing: &[String],
    warning: &[&str],
    extra: &[&str],
) -> Value {
    let addr = start_standard(scheme, defect).await;
    let graded = Graded {
        label: format!("{scheme} {defect:?}"),
        addr,
        secret: grader_key(scheme),
        cases: STANDARD_CASES,
    };
    let mut flags = vec!["--scheme", scheme.as_str()];
    flags.extend(extra);
    let report = graded.check(failing, warning, &flags).await;
    assert_eq!(report["scheme"], scheme.as_str());
    report
}

/// A receiver to grade: `label` names it in failures, `cases` is how many cases its
/// run has.
struct Graded {
    label: String,
    addr: SocketAddr,
    secret: String,
    cases: usize,
}

impl Graded {
    async fn check(&self, failing: &[String], warning: &[&str], extra: &[&str]) -> Value {
        let defect = &self.label;
        let mut flags = extra.to_vec();
        if !flags.contains(&"--deadline") {
            flags.extend(["--deadline", LOADED_DEADLINE]);
        }
        let (code, verdicts, report) = grade_receiver_with(self.addr, &self.secret, &flags).await;
        assert_eq!(
            verdicts.len(),
            self.cases,
            "{defect}: every case is reported"
        );
        let mut wrong = Vec::new();
        for (id, verdict) in &verdicts {
            let want = if failing.contains(id) {
                "fail"
            } else if warning.contains(&id.as_str()) {
                "warn"
            } else {
                "pass"
            };
            if verdict != want {
                let reason = report["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == id.as_str())
                    .map(|c| c["reason"].to_string())
                    .unwrap_or_default();
                wrong.push(format!("{id}: {verdict}, expected {want} ({reason})"));
            }
        }
        assert!(wrong.is_empty(), "{defect}:\n{}", wrong.join("\n"));
        assert_eq!(
            code,
            i32::from(!failing.is_empty()),
            "{defect}: exit status"
        );
        assert_eq!(
            report["summary"]["fail"].as_u64(),
            Some(failing.len() as u64)
        );
        report
    }
}

/// Case `id` of a JSON report.
pub fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in the report"))
}

/// The reason the report gives for case `id`.
pub fn reason<'a>(report: &'a Value, id: &str) -> &'a str {
    case(report, id)["reason"].as_str().unwrap()
}

/// The `X-Menon-Event-Id` of the first request case `id` sent.
pub fn event_id<'a>(report: &'a Value, id: &str) -> &'a str {
    case(report, id)["exchanges"][0]["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "X-Menon-Event-Id")
        .and_then(|h| h["value"].as_str())
        .unwrap_or_else(|| panic!("{id} sent no X-Menon-Event-Id"))
}

pub fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| String::from(*s)).collect()
}

pub async fn run_bin(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("MENON_WEBHOOK_SECRET")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Whether process `pid` runs (a zombie that nobody reaped yet does not).
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Whether process `pid` has ended within [`HANG`] (a signal is delivered at once, but
/// the process may take a moment to go): one left running stays running far longer.
pub async fn ends(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + HANG;
    while running(pid) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Waits until process `pid` catches SIGINT (bit 2 of `SigCgt` in /proc/PID/status): a
/// Ctrl-C sent then is handled by it, not the default action that kills it.
pub async fn until_catching_sigint(pid: u32) {
    let deadline = std::time::Instant::now() + HANG;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (nix::libc::SIGINT - 1)) != 0);
        if caught {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} never caught SIGINT:\n{status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
