//! The `serve` lifecycle: open the data folder (database, JWT key), start the dispatcher,
//! bind, print the URL, serve until the shutdown future completes (SIGTERM or Ctrl-C in
//! the binary). Then, in bounded time: the listener closes and idle connections with it,
//! the dispatcher stops claiming, and requests and attempts in flight get the grace
//! period (`--shutdown-grace`) to end. At its end, connections still open are dropped
//! and attempts still in flight are recorded as interrupted (sent again on the
//! schedule by the next run); then `serve` returns.

use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::JwtKey;
use crate::clock::SharedClock;
use crate::config::ServeArgs;
use crate::dispatch::{Dispatcher, Sender};
use crate::metrics::Metrics;
use crate::service::{AppState, Settings};
use crate::store::SellerId;
use crate::target::AllowedTargets;

/// Runs the server with `args` until `shutdown` completes, printing its URL first.
pub async fn run(
    args: ServeArgs,
    clock: SharedClock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    let bound = bind(args, clock).await?;
    // The first line on stdout is the URL: scripts and tests read it (port 0 included).
    println!("menon-harness listening on http://{}", bound.addr);
    let base = crate::dashboard::base_url(bound.addr);
    match &bound.args.dev_sign_in {
        Some(seller) => {
            let link =
                crate::dashboard::sign_in_url(&bound.state, &base, &SellerId(seller.clone()))?;
            println!(
                "dashboard sign-in link for {seller} (--dev-sign-in: development only; works once, \
                 within {} minutes): {link}",
                crate::service::access::SIGN_IN_LINK_TTL_SECS / 60
            );
        }
        None => println!(
            "dashboard: {base}/dashboard (sign in with a token from \
             `menon-harness token --seller <id>`)"
        ),
    }
    bound.serve(shutdown).await
}

/// A server whose database is open and whose socket is bound, not yet serving.
pub struct Bound {
    /// The address it listens on (the real port when `--listen` asked for port 0).
    pub addr: SocketAddr,
    /// What every handler shares (the demo reads the store and key through it).
    pub state: AppState,
    listener: tokio::net::TcpListener,
    args: ServeArgs,
}

/// Opens the data folder and binds the listener.
pub async fn bind(
    args: ServeArgs,
    clock: SharedClock,
) -> Result<Bound, Box<dyn std::error::Error>> {
    args.data.ensure_data_dir().map_err(|e| {
        format!(
            "cannot create the data folder {}: {e}",
            args.data.data_dir.display()
        )
    })?;
    let database = args.data.database();
    // Opening blocks (a file, or a connection and the migrations): off the runtime.
    let opening = database.clone();
    let store = tokio::task::spawn_blocking(move || crate::store::open(&opening))
        .await?
        .map_err(|e| format!("cannot open the database {database}: {e}"))?;
    let jwt = JwtKey::load_or_create(&args.data.jwt_key_path())?;
    let allowed_targets = AllowedTargets::new(&args.allow_targets);
    let sender = Sender::new(args.delivery_timeout, allowed_targets.clone())
        .map_err(|e| format!("cannot build the delivery HTTP client: {e}"))?;
    let wake = Arc::new(tokio::sync::Notify::new());
    // Publishes of the other instances on a shared database wake this one's dispatcher.
    store.watch_publishes(Arc::clone(&wake));
    let state = AppState {
        store,
        clock,
        jwt: Arc::new(jwt),
        settings: Arc::new(Settings {
            allowed_targets,
            max_body_bytes: args.max_body_bytes,
        }),
        sender,
        metrics: Arc::new(Metrics::new()),
        wake,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    Ok(Bound {
        addr,
        state,
        listener,
        args,
    })
}

impl Bound {
    /// Starts the dispatcher and serves HTTP until `shutdown` completes; then gives
    /// requests and attempts in flight the shutdown grace to end, abandons the rest and
    /// returns (within about the grace plus
    /// [`RELEASE_BOUND`](crate::dispatch::dispatcher::RELEASE_BOUND)).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let Bound {
            addr,
            state,
            listener,
            args,
        } = self;
        tracing::info!(
            %addr,
            database = %args.data.database(),
            allowed_targets = %state.settings.allowed_targets,
            workers = args.workers,
            endpoint_concurrency = args.endpoint_concurrency,
            time_scale = args.time_scale,
            delivery_timeout_ms = u64::try_from(args.delivery_timeout.as_millis()).unwrap_or(u64::MAX),
            shutdown_grace_ms = u64::try_from(args.shutdown_grace.as_millis()).unwrap_or(u64::MAX),
            "serving"
        );
        if !state.settings.allowed_targets.is_empty() {
            tracing::warn!(
                allowed_targets = %state.settings.allowed_targets,
                "--allow-target is on: webhooks may target these non-public ranges, and use plain http"
            );
        }
        if (args.time_scale - 1.0).abs() > f64::EPSILON {
            tracing::warn!(
                time_scale = args.time_scale,
                "--time-scale is on: the retry schedule runs faster than real time"
            );
        }
        let grace = args.shutdown_grace;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "shutting down: no new connections or claims; requests and attempts in \
                 flight get the grace period"
            );
            let _ = stop.send(true);
        });
        let dispatcher = Dispatcher::new(
            Arc::clone(&state.store),
            Arc::clone(&state.clock),
            state.sender.clone(),
            Arc::clone(&state.metrics),
            Arc::clone(&state.wake),
            usize::from(args.workers),
            args.delivery_timeout,
        )
        .with_shutdown_grace(grace)
        .with_endpoint_concurrency(usize::from(args.endpoint_concurrency));
        let dispatching = tokio::spawn(dispatcher.run(stopping.clone()));
        let mut http_stopping = stopping.clone();
        let http = axum::serve(listener, crate::app::router(state))
            .with_graceful_shutdown(async move {
                let _ = http_stopping.wait_for(|stop| *stop).await;
            })
            .into_future();
        // Graceful shutdown closes the listener and idle keep-alive connections, and
        // waits for the connections serving a request. The grace bounds that wait: a
        // request still running (or a client that sent half a request and went quiet)
        // is cut off when it ends. Dropping the serve future stops the waiting; the
        // connections' own tasks end with the runtime.
        let mut deadline = stopping;
        let grace_over = async move {
            if deadline.wait_for(|stop| *stop).await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = http => served?,
            () = grace_over => tracing::warn!(
                "HTTP connections still open at the end of the shutdown grace: closed"
            ),
        }
        if let Err(e) = dispatching.await {
            tracing::error!(error = %e, "the dispatcher failed");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

pub use menon_harness_common::shutdown_signal;
