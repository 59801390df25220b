//! Conformance: the delivery logs (filters, cursors, manual attempts, `attempt_event`).

use super::{claim, claim_one, event, finish, found, get, logs, seller, webhook};
use crate::store::{Attempt, AttemptFilter, AttemptStatus, Settle, Store, StoreError, StoredEvent};

/// Logs list newest first, filter by status and event type, and page with the previous
/// page's last id as the cursor (an unknown cursor gives an empty page).
pub fn attempts_page_newest_first_with_filters(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.insert_event(&StoredEvent {
        is_test: true,
        ..event("evt_1", "sel_a", 1_000)
    })?;
    let kinds = [
        (AttemptStatus::Failed, "listing.created"),
        (AttemptStatus::Delivered, "listing.created"),
        (AttemptStatus::Failed, "message.received"),
        (AttemptStatus::Failed, "listing.created"),
    ];
    for (n, (status, event_type)) in kinds.into_iter().enumerate() {
        store.record_attempt(&Attempt {
            id: format!("log_{n}"),
            webhook_id: "wh_a".into(),
            seller_id: seller("sel_a"),
            event_id: "evt_1".into(),
            event_type: event_type.into(),
            status,
            response_code: Some(500),
            response_time_ms: Some(3),
            delivered_at: None,
            error: Some("Internal Server Error".into()),
            retry_count: u32::try_from(n).unwrap_or(0),
            next_retry: Some(9_000),
            created_at: 1_000,
        })?;
    }
    let ids = |filter: AttemptFilter| -> Result<Vec<String>, StoreError> {
        Ok(found(
            store.list_attempts(&seller("sel_a"), "wh_a", &filter)?,
            "wh_a",
        )?
        .into_iter()
        .map(|a| a.id)
        .collect())
    };
    let all = AttemptFilter {
        limit: 10,
        ..AttemptFilter::default()
    };
    assert_eq!(ids(all.clone())?, ["log_3", "log_2", "log_1", "log_0"]);
    let page = |limit, before: Option<&str>| AttemptFilter {
        limit,
        before: before.map(String::from),
        ..AttemptFilter::default()
    };
    assert_eq!(ids(page(2, None))?, ["log_3", "log_2"]);
    assert_eq!(ids(page(2, Some("log_2")))?, ["log_1", "log_0"]);
    assert!(ids(page(2, Some("log_0")))?.is_empty());
    assert!(ids(page(2, Some("log_unknown")))?.is_empty());
    let failed = AttemptFilter {
        status: Some(AttemptStatus::Failed),
        ..all.clone()
    };
    assert_eq!(ids(failed)?, ["log_3", "log_2", "log_0"]);
    let typed = AttemptFilter {
        event_type: Some("listing.created".into()),
        status: Some(AttemptStatus::Failed),
        limit: 1,
        before: Some("log_3".into()),
    };
    assert_eq!(ids(typed)?, ["log_0"]);
    // Rows read back as written.
    let rows = logs(store, "sel_a", "wh_a")?;
    let first = found(rows.last(), "log_0")?;
    assert_eq!(
        first,
        &Attempt {
            id: "log_0".into(),
            webhook_id: "wh_a".into(),
            seller_id: seller("sel_a"),
            event_id: "evt_1".into(),
            event_type: "listing.created".into(),
            status: AttemptStatus::Failed,
            response_code: Some(500),
            response_time_ms: Some(3),
            delivered_at: None,
            error: Some("Internal Server Error".into()),
            retry_count: 0,
            next_retry: Some(9_000),
            created_at: 1_000,
        }
    );
    Ok(())
}

/// A delivered attempt recorded outside the queue (a manual retry) settles the event's
/// queued delivery and counts as the webhook's success; a failed one changes neither.
pub fn recording_a_delivered_attempt_settles_the_queued_delivery(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let c = claim_one(store, 1_000)?;
    finish(store, &c, Settle::Retry(1_060), None, 1_000)?;
    let manual = |id: &str, status, delivered_at| Attempt {
        id: id.into(),
        webhook_id: "wh_a".into(),
        seller_id: seller("sel_a"),
        event_id: "evt_1".into(),
        event_type: "listing.created".into(),
        status,
        response_code: Some(200),
        response_time_ms: Some(4),
        delivered_at,
        error: None,
        retry_count: 1,
        next_retry: None,
        created_at: 1_010,
    };
    store.record_attempt(&manual("log_m1", AttemptStatus::Failed, None))?;
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 1);
    store.record_attempt(&manual("log_m2", AttemptStatus::Delivered, Some(1_011)))?;
    assert_eq!(store.queue_depth()?, 0);
    assert!(claim(store, 1_060, 10)?.is_empty());
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 0);
    // The success is the webhook's last one: a later claim sees it.
    store.publish_event(&event("evt_2", "sel_a", 2_000))?;
    assert_eq!(claim_one(store, 2_000)?.last_success_at, Some(1_011));
    Ok(())
}

/// `attempt_event` finds the event an attempt sent and counts the attempts of that event
/// to that webhook.
pub fn attempt_event_finds_the_event_and_counts_its_attempts(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_a")?;
    let published = event("evt_1", "sel_a", 1_000);
    store.publish_event(&published)?;
    let claims = claim(store, 1_000, 2)?;
    let on_a = found(
        claims.iter().find(|c| c.webhook_id == "wh_a"),
        "wh_a's claim",
    )?;
    finish(store, on_a, Settle::Retry(1_060), None, 1_000)?;
    let again = claim(store, 1_060, 1)?;
    assert_eq!(again.len(), 1);
    let (stored, attempts) = found(
        store.attempt_event(&seller("sel_a"), "wh_a", &on_a.log_id)?,
        "the attempt",
    )?;
    assert_eq!(attempts, 2, "wh_a's two attempts, not wh_b's");
    assert_eq!(stored.id, "evt_1");
    assert_eq!(stored.seller_id, seller("sel_a"));
    assert_eq!(stored.event_type, "listing.created");
    assert_eq!(stored.created_at, 1_000);
    assert_eq!(stored.body, published.body);
    assert!(!stored.is_test);
    assert!(store
        .attempt_event(&seller("sel_a"), "wh_b", &on_a.log_id)?
        .is_none());
    assert!(store
        .attempt_event(&seller("sel_a"), "wh_a", "log_unknown")?
        .is_none());
    Ok(())
}
