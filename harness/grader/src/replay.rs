//! `menon-harness replay DIR --url URL --secret S`: sends a folder of event envelopes to a
//! receiver, signed as the server signs them, with a progress bar and a summary.
//!
//! Every file is read and checked before anything is sent, so a bad file stops the run
//! with its name and the reason, and nothing is half-sent. Exit status: 0 when every
//! delivery was acknowledged (2xx), 1 when one was not, 2 when nothing could be sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::Envelope;

use crate::send::{Client, Exchange, Outgoing};

/// Options of `menon-harness replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A folder of envelope files (`*.json`, e.g. fixtures/events), sent in name order.
    pub dir: PathBuf,
    /// The receiver's webhook URL.
    #[arg(long)]
    pub url: String,
    /// The receiver's signing secret.
    #[arg(long, env = "MENON_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Give each event a fresh id (the receiver then cannot deduplicate them away);
    /// by default the files' ids are kept, as a redelivery would.
    #[arg(long)]
    pub new_ids: bool,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Also trust the PEM certificate(s) in FILE (an https receiver with a local CA).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `replay` and returns its exit status.
pub fn main(args: ReplayArgs) -> u8 {
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            2
        }
    }
}

/// One file, checked and ready.
struct Prepared {
    file: String,
    envelope: Envelope,
}

fn load(dir: &Path, new_ids: bool) -> Result<Vec<Prepared>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{} holds no *.json file", dir.display()));
    }
    let mut prepared = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Envelope::from_json(&bytes).map_err(|e| e.to_string()));
        match parsed {
            Ok(mut envelope) => {
                if new_ids {
                    envelope.id =
                        menon_harness_common::ids::event_id().map_err(|e| e.to_string())?;
                }
                prepared.push(Prepared {
                    file: name,
                    envelope,
                });
            }
            Err(e) => problems.push(format!("  {name}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{} of the files are not event envelopes; nothing was sent:\n{}",
            problems.len(),
            problems.join("\n")
        ));
    }
    Ok(prepared)
}

fn run(args: &ReplayArgs) -> Result<u8, String> {
    if args.secret.trim().is_empty() {
        return Err("--secret is empty".into());
    }
    match url::Url::parse(&args.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(format!(
                "--url {}: give an http:// or https:// URL",
                args.url
            ))
        }
    }
    let events = load(&args.dir, args.new_ids)?;
    let client = Client::new(args.ca_cert.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(events.len() as u64)
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} replaying [{bar:30}] {pos}/{len} {msg} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    runtime.block_on(client.preflight(&args.url)).map_err(|e| {
        format!(
            "the receiver at {} is unreachable ({e}); nothing was sent",
            args.url
        )
    })?;
    let started = Instant::now();
    let results = runtime.block_on(send_all(args, client, events, bar.clone()))?;
    bar.finish_and_clear();
    print!("{}", summary(&args.url, &results, started.elapsed()));
    Ok(u8::from(results.iter().any(|(_, e)| !e.acknowledged())))
}

async fn send_all(
    args: &ReplayArgs,
    client: Client,
    events: Vec<Prepared>,
    bar: ProgressBar,
) -> Result<Vec<(String, Exchange)>, String> {
    let permits = Arc::new(tokio::sync::Semaphore::new(usize::from(args.concurrency)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, event) in events.into_iter().enumerate() {
        let (client, url, secret, bar, permits) = (
            client.clone(),
            args.url.clone(),
            args.secret.clone(),
            bar.clone(),
            Arc::clone(&permits),
        );
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            // Signed when its turn comes, so a long replay never sends an old timestamp.
            let signed = Outgoing::signed(
                &event.envelope,
                SigningScheme::Menon,
                &secret,
                menon_harness_common::now_unix(),
            );
            let exchange = match signed {
                Ok(outgoing) => client.send(&url, &outgoing).await,
                Err(e) => return Err(format!("{}: {e}", event.file)),
            };
            if !exchange.acknowledged() {
                bar.set_message(format!("{}: {}", event.file, exchange.outcome()));
            }
            bar.inc(1);
            Ok((index, event.file, exchange))
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.map_err(|e| format!("a delivery task failed: {e}"))??);
    }
    results.sort_by_key(|(index, ..)| *index);
    Ok(results
        .into_iter()
        .map(|(_, file, exchange)| (file, exchange))
        .collect())
}

fn summary(url: &str, results: &[(String, Exchange)], took: Duration) -> String {
    let acked = results.iter().filter(|(_, e)| e.acknowledged()).count();
    let mut times: Vec<f64> = results.iter().map(|(_, e)| e.duration_ms).collect();
    times.sort_by(f64::total_cmp);
    let at = |p: usize| crate::judge::percentile(&times, p);
    let mut out = String::new();
    for (file, e) in results.iter().filter(|(_, e)| !e.acknowledged()) {
        out.push_str(&format!("  ✘ {file}: {}\n", e.outcome()));
    }
    out.push_str(&format!(
        "{} sent to {url} in {:.1} s: {acked} acknowledged (2xx), {} not; p50 {:.0} ms, p99 {:.0} ms\n",
        results.len(),
        took.as_secs_f64(),
        results.len() - acked,
        at(50),
        at(99),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_stop_the_run_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), br#"{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"listing.created"}"#).unwrap();
        std::fs::write(dir.path().join("b.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let e = load(dir.path(), false).err().unwrap();
        assert!(
            e.contains("b.json") && e.contains("nothing was sent"),
            "{e}"
        );
        std::fs::remove_file(dir.path().join("b.json")).unwrap();
        let ok = load(dir.path(), true).unwrap();
        assert_eq!(ok.len(), 1);
        assert_ne!(ok[0].envelope.id, "evt_1");
        let empty = tempfile::tempdir().unwrap();
        assert!(load(empty.path(), false)
            .err()
            .unwrap()
            .contains("no *.json"));
    }
}
