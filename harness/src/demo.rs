//! `menon-harness demo`: the whole toolkit in one command, on this machine alone.
//!
//! 1. starts the reference server (a real SQLite file in a fresh data folder) on
//!    127.0.0.1:8787 with loopback targets allowed;
//! 2. starts the bundled Rust example receiver (`examples/rust-axum`) on a free port;
//! 3. registers it through the management API as seller `sel_demo` (all 21 event types)
//!    and hands it the secret the API returned, once;
//! 4. publishes the 21 fixture events through `POST /v1/events` and waits until the
//!    dispatcher has delivered them;
//! 5. grades the receiver (every case, with its probe), prints the report and writes
//!    the HTML page;
//! 6. leaves the server, the dashboard and the receiver running, with their URLs
//!    printed, until Ctrl-C (or stops at once with `--no-wait`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser};
use menon_grader::cases::Selection;
use menon_grader::engine::Target;
use menon_grader::report::{self, Receiver};
use menon_webhooks::EventType;
use serde_json::{json, Value};

use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::ServeArgs;
use crate::store::SellerId;

/// The seller the demo acts as.
pub const SELLER: &str = "sel_demo";

/// Options of `menon-harness demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where the server listens (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Keep the server's state here [default: a fresh folder under the system's temp
    /// folder, removed when the demo stops].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where to write the HTML grade report.
    #[arg(long, default_value = "menon-grade-report.html")]
    pub html: PathBuf,
    /// Stop after grading instead of running until Ctrl-C (for scripts).
    #[arg(long)]
    pub no_wait: bool,
    /// The grade's fast-200 limit, as `grade --deadline` (a loaded CI machine may want 5s).
    #[arg(long, default_value = "1s", value_parser = menon_grader::positive_duration)]
    pub deadline: Duration,
}

/// `ServeArgs` as `serve` would parse them, so the demo runs exactly what `serve` runs.
#[derive(Parser)]
struct ServeCli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A data folder the demo made, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the demo; returns the grade's exit status (0 conforming, 1 not).
pub fn main(args: DemoArgs) -> Result<u8, Box<dyn std::error::Error>> {
    let (data_dir, _scratch) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let dir = std::env::temp_dir().join(format!(
                "menon-demo-{}-{}",
                std::process::id(),
                SystemClock.now_unix()
            ));
            (dir.clone(), Some(Scratch(dir)))
        }
    };
    let serve = ServeCli::try_parse_from([
        std::ffi::OsString::from("serve"),
        "--listen".into(),
        args.listen.to_string().into(),
        "--allow-target".into(),
        "loopback".into(),
        "--data-dir".into(),
        data_dir.clone().into_os_string(),
    ])?
    .serve;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, serve))
}

fn step(text: &str) {
    println!("{} {text}", console::style("▸").cyan().bold());
}

async fn run(args: DemoArgs, serve: ServeArgs) -> Result<u8, Box<dyn std::error::Error>> {
    let database = serve.data.database();
    let clock: SharedClock = Arc::new(SystemClock);
    let bound = crate::server::bind(serve, clock).await.map_err(|e| {
        format!("{e} (is a server already running there? `demo --listen 127.0.0.1:0` picks a free port)")
    })?;
    let base = format!("http://{}", bound.addr);
    let state = bound.state.clone();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let serving = bound.serve(wait_stop(stopping.clone()));
    let server = tokio::spawn(async move { serving.await.map_err(|e| e.to_string()) });
    step(&format!(
        "reference server on {base} (database {})",
        database
    ));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_base = format!("http://{}", listener.local_addr()?);
    let receiver_url = format!("{receiver_base}{}", menon_example_receiver::WEBHOOK_PATH);
    let probe_url = format!("{receiver_base}{}", menon_example_receiver::PROBE_PATH);

    let seller = SellerId(SELLER.into());
    let now = SystemClock.now_unix();
    let token = state.jwt.issue(&seller, now, 24 * 3600)?;
    // Its own server on loopback: never through a proxy named by the environment.
    let http = reqwest::Client::builder().no_proxy().build()?;
    let created = api(
        &http,
        reqwest::Method::POST,
        &format!("{base}/api/seller/webhooks"),
        &token,
        Some(json!({
            "url": receiver_url,
            "events": EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        })),
    )
    .await?;
    let created = &created["webhook"];
    let webhook_id = created["id"].as_str().unwrap_or_default().to_owned();
    let secret = created["secret"]
        .as_str()
        .ok_or("the create response had no secret")?
        .to_owned();
    step(&format!(
        "registered the example receiver {receiver_url} as webhook {webhook_id} (seller {SELLER})"
    ));

    let receiver = tokio::spawn(menon_example_receiver::serve(
        listener,
        secret.clone(),
        wait_stop(stopping.clone()),
    ));
    step("started the bundled Rust example receiver (examples/rust-axum)");

    let (key, hash) = crate::auth::new_api_key()?;
    let prefix = crate::auth::api_key_prefix(key.expose());
    {
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.insert_api_key(&hash, &prefix, &seller, now))
            .await??;
    }
    let started = Instant::now();
    for event_type in EventType::ALL {
        api(
            &http,
            reqwest::Method::POST,
            &format!("{base}/v1/events"),
            key.expose(),
            Some(json!({"type": event_type.as_str(), "data": crate::samples::data(*event_type)})),
        )
        .await?;
    }
    let delivered = wait_delivered(
        &http,
        &base,
        key.expose(),
        &webhook_id,
        EventType::ALL.len(),
    )
    .await?;
    step(&format!(
        "published the 21 fixture events; the dispatcher delivered {delivered} of them in {} ms",
        started.elapsed().as_millis()
    ));

    step("grading the example receiver (menon-harness grade --probe …)");
    let target = Target {
        url: receiver_url.clone(),
        secret,
        probe: Some(probe_url.clone()),
        deadline: args.deadline,
        probe_wait: Duration::from_secs(5),
        dry_run: false,
    };
    let receiver_info = Receiver {
        url: receiver_url.clone(),
        probe: Some(probe_url),
        command: None,
    };
    let client = menon_grader::send::Client::new(None)?;
    let everything = Selection::parse(None);
    let report =
        menon_grader::graded(client, &target, &everything, receiver_info, true, false).await?;
    print!(
        "\n{}",
        report::terminal::render(&report, console::colors_enabled())
    );
    report::write_file(&args.html, &report::html::render(&report)?)?;
    let html = std::fs::canonicalize(&args.html).unwrap_or_else(|_| args.html.clone());

    println!();
    step(&format!("HTML report: {}", html.display()));
    step(&format!("server:      {base}  (API: {base}/openapi.json)"));
    step(&format!("dashboard:   {}", dashboard_link(&state, &base)?));
    step(&format!(
        "receiver:    {receiver_url}  (probe {receiver_base}{})",
        menon_example_receiver::PROBE_PATH
    ));
    step(&format!(
        "seller token for /api/seller (24 h): {token}\n  API key for /v1: {}",
        key.expose()
    ));
    if args.no_wait {
        step("--no-wait: stopping");
    } else {
        println!(
            "\nRunning. Press Ctrl-C to stop{}.",
            if args.data_dir.is_none() {
                " (the demo's data folder is removed then; pass --data-dir to keep it)"
            } else {
                ""
            }
        );
        crate::server::shutdown_signal().await;
    }
    let _ = stop.send(true);
    if let Ok(Err(e)) = receiver.await {
        eprintln!("the example receiver stopped with an error: {e}");
    }
    if let Ok(Err(e)) = server.await {
        eprintln!("the server stopped with an error: {e}");
    }
    Ok(report.summary.exit_code)
}

/// The dashboard sign-in link for the demo's seller.
fn dashboard_link(
    state: &crate::service::AppState,
    base: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    Ok(crate::dashboard::sign_in_url(
        state,
        base,
        &SellerId(SELLER.into()),
    )?)
}

/// Calls the management API and returns `data`, or the error envelope as an error.
async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    bearer: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = http.request(method, url).bearer_auth(bearer);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{url} answered {status}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", value["error"]));
    }
    Ok(value["data"].clone())
}

/// Polls the webhook's logs until `want` deliveries are `delivered` (at most 30 s).
async fn wait_delivered(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    webhook_id: &str,
    want: usize,
) -> Result<usize, String> {
    let url = format!("{base}/v1/webhooks/{webhook_id}/logs?status=delivered&limit=100");
    let started = Instant::now();
    loop {
        let data = api(http, reqwest::Method::GET, &url, key, None).await?;
        let logs = data["logs"].as_array().map_or(0, |logs| {
            logs.iter().filter(|l| l["status"] == "delivered").count()
        });
        if logs >= want {
            return Ok(logs);
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "only {logs} of {want} events were delivered to the example receiver within 30 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
