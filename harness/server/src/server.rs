//! The `serve` lifecycle: open the data folder (database, JWT key), start the dispatcher,
//! bind, print the URL, serve until the shutdown future completes (SIGTERM or Ctrl-C in
//! the binary). Then, in bounded time: the listener closes and idle connections with it,
//! the dispatcher stops claiming, and requests and attempts in flight get the grace
//! period (`--shutdown-grace`) to end. At its end, connections still open are dropped
//! and attempts still in flight are recorded as interrupted (sent again on the
//! schedule by the next run); then `serve` returns.
//!
//! Slow and idle clients hold no connection for long: a request head (request line and
//! headers) must arrive within [`HEADER_READ_TIMEOUT`] of the connection opening or of
//! the previous answer, else the connection is closed (so an idle keep-alive connection
//! lasts that long); a body must arrive within [`BODY_READ_TIMEOUT`] of its head, else
//! the request is answered 408 and the connection closed. At most `--max-connections`
//! are open at once; at the cap the server stops accepting, and new clients wait in the
//! listen backlog rather than being turned away: a slot held by a slow or idle client
//! frees within a header deadline, while a refused client would never be answered.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, CONNECTION};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::ApiError;
use crate::auth::JwtKey;
use crate::clock::SharedClock;
use crate::config::ServeArgs;
use crate::dispatch::{Dispatcher, Sender};
use crate::metrics::Metrics;
use crate::seal::Sealer;
use crate::service::limits::PublishLimiter;
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

/// Seals the secrets a database holds unsealed (written before sealing existed), and
/// checks that the sealed ones open with this server's key: a server with the wrong key
/// refuses to start rather than failing every delivery.
pub async fn seal_stored_secrets(
    store: &Arc<dyn crate::store::Store>,
    sealer: &Arc<Sealer>,
) -> Result<(), Box<dyn std::error::Error>> {
    let sealer = Arc::clone(sealer);
    let sealed = crate::store::blocking(store, move |store| {
        store.reseal_secrets(&|webhook_id, stored| {
            if Sealer::is_sealed(stored) {
                sealer
                    .open(webhook_id, stored)
                    .map(|_| None)
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
            } else {
                sealer
                    .seal(webhook_id, stored)
                    .map(Some)
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
            }
        })
    })
    .await?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed webhook secrets stored unsealed");
    }
    Ok(())
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
    let sealer = Arc::new(Sealer::new(&args.data.secret_key()?));
    seal_stored_secrets(&store, &sealer).await?;
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
            limits: args.limits(),
        }),
        publish_limiter: Arc::new(PublishLimiter::new(&args.limits())),
        sealer,
        sender,
        metrics: Arc::new(Metrics::new()),
        wake,
    };
    let listener =
        listen(args.listen).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
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
            retention = %args.retention,
            delivery_timeout_ms = u64::try_from(args.delivery_timeout.as_millis()).unwrap_or(u64::MAX),
            shutdown_grace_ms = u64::try_from(args.shutdown_grace.as_millis()).unwrap_or(u64::MAX),
            max_connections = args.max_connections,
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
        .with_endpoint_concurrency(usize::from(args.endpoint_concurrency))
        .with_sealer(Arc::clone(&state.sealer));
        let dispatching = tokio::spawn(dispatcher.run(stopping.clone()));
        tokio::spawn(crate::service::retention::run(
            state.clone(),
            args.retention,
            stopping.clone(),
        ));
        let app = crate::app::router(state).layer(axum::middleware::from_fn_with_state(
            args.body_read_timeout.unwrap_or(BODY_READ_TIMEOUT),
            body_deadline,
        ));
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(args.header_read_timeout.unwrap_or(HEADER_READ_TIMEOUT));
        let max_connections = usize::try_from(args.max_connections).unwrap_or(usize::MAX);
        check_open_file_limit(&args);
        let mut connections = accept(
            listener,
            Connections {
                app,
                http1,
                max: max_connections,
                stopping: stopping.clone(),
            },
        )
        .await;
        // The listener is closed; every connection was told to close once idle (graceful
        // shutdown: an idle keep-alive connection closes at once, one serving a request
        // after its answer). The grace bounds the wait: a request still running (or a
        // client that sent half a request and went quiet) is cut off when it ends, by
        // dropping its connection's task.
        let closed = async { while connections.join_next().await.is_some() {} };
        tokio::select! {
            () = closed => {}
            () = tokio::time::sleep(grace) => tracing::warn!(
                open = connections.len(),
                "HTTP connections still open at the end of the shutdown grace: closed"
            ),
        }
        drop(connections);
        if let Err(e) = dispatching.await {
            tracing::error!(error = %e, "the dispatcher failed");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long a client may take to send a request head: from the connection's opening,
/// or from the previous answer on a keep-alive connection (so also how long one may sit
/// idle). Past it the connection is closed. `--header-read-timeout` shortens it in tests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to send a request body, from the end of its head. Past it
/// the request is answered 408 and the connection closed. `--body-read-timeout`
/// shortens it in tests.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Files `serve` keeps open besides its HTTP connections, a generous bound: the
/// database, the outbound connections of the workers (`--workers` is added to it), the
/// runtime's own.
const FILES_BESIDES_CONNECTIONS: u64 = 256;

/// Clients the kernel holds for `accept` (capped by `net.core.somaxconn` on Linux).
/// Larger than the 128 tokio's `TcpListener::bind` asks for: at the connection cap new
/// clients wait here, and a burst beyond it has its connection attempts dropped and
/// retried by the client a second or more later.
const LISTEN_BACKLOG: u32 = 1024;

/// A listening socket on `addr`, with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server can bind while the previous one's
    // connections linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How often reaching the connection cap is logged, at most.
const CAP_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// What every accepted connection is served with.
struct Connections {
    app: Router,
    http1: http1::Builder,
    /// `--max-connections`.
    max: usize,
    stopping: watch::Receiver<bool>,
}

/// Accepts connections until the server is stopping, each served on its own task, at
/// most `max` at once; then closes the listener and returns the tasks of the
/// connections still open.
///
/// At the cap the loop stops calling `accept`: new clients wait in the kernel's listen
/// backlog and are accepted, in order, as connections end. A slot held by a slow or idle
/// client frees within a header deadline, since a client that sends no request head in
/// that time is cut off; refusing new clients instead would leave every one of them
/// unanswered for as long as slow ones hold the slots.
async fn accept(listener: tokio::net::TcpListener, served: Connections) -> JoinSet<()> {
    let mut open = JoinSet::new();
    let mut stopping = served.stopping.clone();
    // When the cap was last reported: once a minute at most, since under a steady
    // overload it is reached again each time a connection ends.
    let mut reported: Option<tokio::time::Instant> = None;
    loop {
        let full = open.len() >= served.max;
        if full && reported.map_or(true, |at| at.elapsed() >= CAP_REPORT_INTERVAL) {
            reported = Some(tokio::time::Instant::now());
            tracing::warn!(
                max_connections = served.max,
                "open connections at the --max-connections cap: new clients wait in the \
                 listen backlog until one closes"
            );
        }
        tokio::select! {
            biased;
            () = stop_requested(&mut stopping) => break,
            Some(ended) = open.join_next(), if !open.is_empty() => {
                if let Err(e) = ended {
                    if e.is_panic() {
                        tracing::error!(error = %e, "an HTTP connection's task panicked");
                    }
                }
            }
            accepted = listener.accept(), if !full => match accepted {
                Ok((stream, _peer)) => {
                    open.spawn(serve_connection(
                        stream,
                        served.http1.clone(),
                        served.app.clone(),
                        served.stopping.clone(),
                    ));
                }
                // A client that went away before it was accepted: nothing to do.
                Err(e) if is_connection_error(&e) => {}
                // Out of file descriptors (EMFILE, ENFILE) or memory: wait a little for
                // some to be freed rather than spinning; the client stays in the backlog.
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept a connection; retrying in 1 s");
                    tokio::select! {
                        () = stop_requested(&mut stopping) => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    open
}

/// Serves one connection until it closes, or, once the server is stopping, until it is
/// idle (graceful shutdown).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    http1: http1::Builder,
    app: Router,
    mut stopping: watch::Receiver<bool>,
) {
    let connection = http1
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stop_requested(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        // A header deadline passed, the client reset the connection, …: routine.
        tracing::debug!(error = %e, "HTTP connection closed");
    }
}

/// Completes once the server is stopping; never, if it cannot know.
async fn stop_requested(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Errors of `accept` that concern one client only, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// The body deadline: each request's body must arrive whole within `limit` of its head.
/// A handler reading a body that does not gets an error from the read (its answer would
/// be a 400); the answer is 408 in the error envelope instead, with `Connection: close`,
/// since the rest of the body may still be on its way.
async fn body_deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let passed = Arc::new(AtomicBool::new(false));
    let deadline = tokio::time::Instant::now() + limit;
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline,
            sleep: None,
            passed: Arc::clone(&passed),
            limit,
        })
    });
    let response = next.run(request).await;
    if !passed.load(Ordering::Acquire) {
        return response;
    }
    tracing::info!(
        limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        "a request body did not arrive within the deadline: answered 408, connection closed"
    );
    let mut response = ApiError::RequestTimeout(limit).into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails with a timeout error once `deadline` passes before its end.
/// The timer is only set if the body is ever waited for: a body that came with its head
/// costs none.
struct DeadlineBody {
    inner: Body,
    deadline: tokio::time::Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set when the deadline cut the body off.
    passed: Arc<AtomicBool>,
    limit: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        this.passed.store(true, Ordering::Release);
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the request body did not arrive within {:?}", this.limit),
        )
        .into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Makes sure the process may open a file per connection allowed and the files it needs
/// besides, raising its soft limit on open files if it must; warns when even the hard
/// limit is too low (past the limit, `accept` fails and new clients wait).
fn check_open_file_limit(args: &ServeArgs) {
    let needed =
        u64::from(args.max_connections) + u64::from(args.workers) + FILES_BESIDES_CONNECTIONS;
    match raise_open_file_limit(needed) {
        Some(limit) if limit < needed => tracing::warn!(
            limit,
            needed,
            max_connections = args.max_connections,
            "the open-file limit is below what --max-connections needs: raise `ulimit -n` \
             or lower --max-connections"
        ),
        _ => {}
    }
}

/// Raises this process's soft limit on open files to `wanted` if it is lower, as far as
/// the hard limit allows. Returns the limit in force afterwards (`None`: unlimited, or
/// unknown on this platform).
pub fn raise_open_file_limit(wanted: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current?;
        if current >= wanted {
            return Some(current);
        }
        let raised = limit.maximum.map_or(wanted, |hard| wanted.min(hard));
        let new = Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        };
        Some(if setrlimit(Resource::Nofile, new).is_ok() {
            raised
        } else {
            current
        })
    }
    #[cfg(not(unix))]
    {
        let _ = wanted;
        None
    }
}

pub use menon_harness_common::shutdown_signal;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::SecretKey;
    use crate::store::{NewWebhook, SellerId, SqliteStore, Store};
    use menon_harness_common::ids::Secret;

    #[tokio::test]
    async fn secrets_stored_unsealed_are_sealed_at_start_and_a_wrong_key_refuses() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        store
            .create_webhook(NewWebhook {
                id: "wh_old".into(),
                seller_id: SellerId("sel_a".into()),
                url: "https://example.com/hook".into(),
                events: vec![menon_webhooks::EventType::ListingCreated],
                secret: Secret::new("whsec_from_before_sealing".into()),
                scheme: menon_harness_common::delivery::SigningScheme::Menon,
                public_key: None,
                now: 1_000,
                seller_limit: 10,
            })
            .unwrap();
        let sealer = Arc::new(Sealer::new(&SecretKey::generate().unwrap()));
        seal_stored_secrets(&store, &sealer).await.unwrap();
        let stored = store.signing_secrets("wh_old", 1_000).unwrap();
        assert!(Sealer::is_sealed(&stored[0]), "{}", stored[0].expose());
        assert_eq!(
            sealer.open("wh_old", &stored[0]).unwrap().expose(),
            "whsec_from_before_sealing"
        );
        // Again: nothing left to seal, nothing changes.
        seal_stored_secrets(&store, &sealer).await.unwrap();
        assert_eq!(
            store.signing_secrets("wh_old", 1_000).unwrap()[0].expose(),
            stored[0].expose()
        );
        let other = Arc::new(Sealer::new(&SecretKey::generate().unwrap()));
        let refused = seal_stored_secrets(&store, &other).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("does not open with this server's secret key"),
            "{refused}"
        );
    }
}
