//! `menon-harness health [URL]`: asks a running `serve` whether it is up, for container
//! health checks (the distroless image has no curl). Exit status 0 when `/healthz`
//! answers 2xx within the timeout, 1 otherwise, with the reason on stderr.

use std::time::Duration;

use clap::Args;

/// Arguments of `health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's health URL.
    #[arg(default_value = "http://127.0.0.1:8787/healthz")]
    pub url: String,
    /// How long to wait for the answer, e.g. `2s`, `500ms`.
    #[arg(long, default_value = "2s", value_parser = menon_harness_common::parse_duration)]
    pub timeout: Duration,
}

/// Checks the server; `Err` says why it is not healthy.
pub fn check(args: &HealthArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(&args.url).send().await.map_err(|e| {
            let why = menon_harness_common::delivery::describe_error(&e, args.timeout);
            format!("{} did not answer: {why}", args.url)
        })?;
        let status = response.status();
        if status.is_success() {
            println!("{} answered {status}", args.url);
            Ok(())
        } else {
            Err(format!("{} answered {status}", args.url))
        }
    })
}
