//! The dispatcher's own tests: the schedule on a test clock, the bounded drain, when a
//! worker goes on.

use menon_webhooks::EventType;

use super::*;
use crate::clock::TestClock;
use crate::store::{AttemptFilter, NewWebhook, SellerId, SqliteStore, StoredEvent, WebhookStatus};
use menon_harness_common::ids::Secret;

const START: u64 = 1_705_314_600;

/// A Menon webhook of `seller` with id `id` to `url`, created at [`START`].
fn new_webhook(id: &str, seller: &SellerId, url: String) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        seller_id: seller.clone(),
        url,
        events: vec![EventType::ListingCreated],
        secret: Secret::new("whsec_test".into()),
        scheme: menon_harness_common::delivery::SigningScheme::Menon,
        public_key: None,
        now: START,
        seller_limit: u32::MAX,
    }
}

/// A dispatcher of `workers` on `store` and `clock`, delivering to loopback addresses
/// with a delivery timeout of `timeout`, woken by `wake`.
fn loopback_dispatcher(
    store: &Arc<dyn Store>,
    clock: SharedClock,
    wake: Arc<Notify>,
    workers: usize,
    timeout: Duration,
) -> Result<Dispatcher, Box<dyn std::error::Error>> {
    Ok(Dispatcher::new(
        Arc::clone(store),
        clock,
        Sender::new(timeout, crate::target::AllowedTargets::loopback())?,
        Arc::new(Metrics::new()),
        wake,
        workers,
        timeout,
    ))
}

/// A `listing.created` event of `seller`, created at [`START`].
fn event(id: &str, seller: &SellerId) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        seller_id: seller.clone(),
        event_type: "listing.created".into(),
        created_at: START,
        body: b"{}".to_vec(),
        is_test: false,
    }
}

/// On a clock that only moves when told, jumped to each `next_retry`, the attempts
/// land exactly on the schedule: 1 min, 5 min, 30 min, 2 h, 24 h; then the webhook
/// is disabled (it never succeeded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_is_exact_on_a_test_clock() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let failing =
        axum::Router::new().fallback(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR });
    tokio::spawn(async move {
        let _ = axum::serve(listener, failing).await;
    });

    let clock = Arc::new(TestClock::new(START));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory()?);
    let seller = SellerId("sel_t".into());
    store.create_webhook(new_webhook("wh_t", &seller, url))?;
    let queued = store.publish_event(&event("evt_t", &seller))?;
    assert_eq!(queued, 1);
    let wake = Arc::new(Notify::new());
    let dispatcher = loopback_dispatcher(
        &store,
        Arc::clone(&clock) as SharedClock,
        Arc::clone(&wake),
        2,
        Duration::from_secs(5),
    )?;
    let (stop, stopping) = watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping));

    let filter = AttemptFilter {
        limit: 100,
        ..AttemptFilter::default()
    };
    let mut attempts = Vec::new();
    for n in 1..=6 {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let logs = store
                .list_attempts(&seller, "wh_t", &filter)?
                .unwrap_or_default();
            if logs.len() == n && logs.iter().all(|a| a.status != AttemptStatus::Pending) {
                attempts = logs;
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "attempt {n} never ended"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(next) = attempts.first().and_then(|a| a.next_retry) {
            clock.set(next);
            wake.notify_one();
        }
    }
    attempts.reverse();
    let starts: Vec<u64> = attempts.iter().map(|a| a.created_at).collect();
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [60, 300, 1_800, 7_200, 86_400]);
    let retry_counts: Vec<u32> = attempts.iter().map(|a| a.retry_count).collect();
    assert_eq!(retry_counts, [0, 1, 2, 3, 4, 5]);
    assert!(attempts.iter().all(|a| a.response_code == Some(500)));
    assert_eq!(attempts.last().and_then(|a| a.next_retry), None);
    let webhook = store.get_webhook(&seller, "wh_t")?;
    assert_eq!(webhook.map(|w| w.status), Some(WebhookStatus::Disabled));
    assert_eq!(store.queue_depth()?, 0);
    stop.send(true)?;
    running.await?;
    Ok(())
}

/// The drain is bounded by the shutdown grace: when an attempt in flight outlives it
/// (here the sender's own timeout is an hour, so only the grace can end the wait),
/// shutdown waits the grace for it, then abandons it: the attempt is recorded as
/// interrupted at once, a failure on the schedule, and the delivery is claimed again
/// when that is due (a minute later). Nothing is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_is_bounded_when_an_attempt_outlives_the_grace(
) -> Result<(), Box<dyn std::error::Error>> {
    const GRACE: Duration = Duration::from_millis(300);
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (accepted, mut connected) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
            let _ = accepted.send(());
        }
    });

    let clock = Arc::new(TestClock::new(START));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory()?);
    let seller = SellerId("sel_d".into());
    store.create_webhook(new_webhook("wh_d", &seller, url))?;
    store.publish_event(&event("evt_d", &seller))?;
    let dispatcher = loopback_dispatcher(
        &store,
        Arc::clone(&clock) as SharedClock,
        Arc::new(Notify::new()),
        1,
        Duration::from_secs(3_600),
    )?
    .with_shutdown_grace(GRACE);
    let (stop, stopping) = watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping));
    tokio::time::timeout(Duration::from_secs(30), connected.recv())
        .await?
        .ok_or("the receiver stopped")?;

    let stopped_at = std::time::Instant::now();
    stop.send(true)?;
    // Safety net only: unbounded, the drain would wait for the sender's hour.
    tokio::time::timeout(Duration::from_secs(30), running).await??;
    assert!(
        stopped_at.elapsed() >= GRACE,
        "the drain gave up on the attempt in flight before the grace"
    );
    let filter = AttemptFilter {
        limit: 100,
        ..AttemptFilter::default()
    };
    let logs = store
        .list_attempts(&seller, "wh_d", &filter)?
        .unwrap_or_default();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].status, AttemptStatus::Failed, "{logs:?}");
    assert_eq!(logs[0].error.as_deref(), Some(policy::INTERRUPTED));
    assert_eq!(logs[0].response_time_ms, None);
    // On the schedule: due again a minute after it was abandoned (the test clock did
    // not move), not before.
    assert_eq!(logs[0].next_retry, Some(START + 60));
    assert_eq!(store.next_due()?, Some(START + 60));
    let claim_at = |now: u64, log_id: &str| {
        store
            .claim_due(ClaimRequest {
                now,
                lease_until: now + 3,
                log_ids: vec![log_id.into()],
                in_flight_limit: Arc::new(|_| 1),
                interrupted: Arc::new(move |lapsed| interrupted_result(lapsed, now, now)),
            })
            .map(|claimed| claimed.claims)
    };
    assert!(claim_at(START + 59, "log_early")?.is_empty());
    let again = claim_at(START + 60, "log_again")?;
    assert_eq!(again.len(), 1, "claimed again on the schedule");
    assert_eq!(again[0].failures, 1);
    assert_eq!(again[0].retry_count, 1);
    Ok(())
}

/// A worker goes on with its endpoint's next delivery only while another worker is
/// free (so no claim is short of one) and the dispatcher is not stopping.
#[test]
fn a_worker_goes_on_only_while_another_is_free() -> Result<(), Box<dyn std::error::Error>> {
    let permits = Arc::new(Semaphore::new(2));
    let (stop, stopping) = watch::channel(false);
    let (_abandon, abandoned) = watch::channel(false);
    let worker = Worker {
        permit: Arc::clone(&permits).try_acquire_owned()?,
        permits: Arc::clone(&permits),
        stopping,
        abandoned,
    };
    assert!(worker.may_go_on(), "one of two workers is free");
    let other = Arc::clone(&permits).try_acquire_owned()?;
    assert!(
        !worker.may_go_on(),
        "every worker is busy: a claim would wait"
    );
    drop(other);
    assert!(worker.may_go_on());
    stop.send(true)?;
    assert!(!worker.may_go_on(), "stopping: no new attempts");
    Ok(())
}

/// Without a grace of its own, the dispatcher waits the delivery timeout plus the
/// lease margin: what a claim's lease lasts.
#[test]
fn the_default_grace_is_the_lease() -> Result<(), Box<dyn std::error::Error>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory()?);
    let dispatcher = loopback_dispatcher(
        &store,
        Arc::new(TestClock::new(START)) as SharedClock,
        Arc::new(Notify::new()),
        1,
        Duration::from_secs(5),
    )?;
    assert_eq!(dispatcher.grace, Duration::from_secs(7));
    assert_eq!(
        dispatcher
            .with_shutdown_grace(Duration::from_millis(1))
            .grace,
        Duration::from_millis(1)
    );
    Ok(())
}

/// An endpoint never has more attempts in flight than its limit, however its attempts end
/// and begin: publishes keep waking claims while the workers go on with the endpoint's
/// next deliveries (PostgreSQL) or hand their turn back (SQLite). The receiver counts the
/// requests it holds at once.
async fn never_more_than_the_limit(
    store: Arc<dyn Store>,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const LIMIT: usize = 2;
    const EVENTS: usize = 150;
    let (holding, most, received) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = {
        let (holding, most, received) = (
            Arc::clone(&holding),
            Arc::clone(&most),
            Arc::clone(&received),
        );
        axum::Router::new().fallback(move || {
            let (holding, most, received) = (
                Arc::clone(&holding),
                Arc::clone(&most),
                Arc::clone(&received),
            );
            async move {
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
                holding.fetch_sub(1, Ordering::SeqCst);
                received.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::OK
            }
        })
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let seller = SellerId("sel_l".into());
    let webhook = new_webhook("wh_l", &seller, url);
    blocking(&store, move |store| store.create_webhook(webhook)).await?;
    let wake = Arc::new(Notify::new());
    let dispatcher = loopback_dispatcher(
        &store,
        Arc::new(TestClock::new(START)),
        Arc::clone(&wake),
        16,
        Duration::from_secs(5),
    )?
    .with_endpoint_concurrency(LIMIT);
    let (stop, stopping) = watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping));
    // Published while the dispatcher runs, each publish waking it, as the API does.
    for i in 0..EVENTS {
        let event = event(&format!("evt_{i}"), &seller);
        blocking(&store, move |store| store.publish_event(&event)).await?;
        wake.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::SeqCst) < EVENTS {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {EVENTS} delivered",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true)?;
    running.await?;
    assert_eq!(received.load(Ordering::SeqCst), EVENTS, "each once");
    assert_eq!(
        most.load(Ordering::SeqCst),
        LIMIT,
        "the most requests the endpoint held at once"
    );
    assert_eq!(blocking(&store, |store| store.queue_depth()).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_never_gets_more_than_its_limit_on_sqlite(
) -> Result<(), Box<dyn std::error::Error>> {
    never_more_than_the_limit(Arc::new(SqliteStore::in_memory()?)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_never_gets_more_than_its_limit_on_postgres(
) -> Result<(), Box<dyn std::error::Error>> {
    let database = crate::store::testdb::TestDatabase::create()?;
    let url = database.url().to_owned();
    let store =
        tokio::task::spawn_blocking(move || crate::store::PostgresStore::connect(&url)).await??;
    never_more_than_the_limit(Arc::new(store)).await?;
    Ok(())
}
