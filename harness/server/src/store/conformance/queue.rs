//! Conformance: events and publish, claims and leases, the due-time walk, persisting each
//! decision `finish_attempt` can be given, queue depth.

use menon_webhooks::EventType;

use super::{
    attempt_result, claim, claim_leased, claim_one, disable, enable, event, event_ids, finish,
    found, get, logs, new_webhook, seller, try_finish, webhook, INTERRUPTED, STALE,
};
use crate::store::{
    Attempt, AttemptStatus, Claim, Disable, Finished, NextLease, Settle, Store, StoreError,
    WebhookStatus,
};

/// Publishing stores the event and queues one delivery, due at the event's time, for
/// each active webhook of its seller subscribed to its type; nothing else.
pub fn publish_queues_active_subscribed_webhooks_of_the_seller(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_yes", "sel_a")?;
    store.create_webhook(new_webhook(
        "wh_both",
        "sel_a",
        &[EventType::MessageReceived, EventType::ListingCreated],
        1_000,
    ))?;
    store.create_webhook(new_webhook(
        "wh_other_type",
        "sel_a",
        &[EventType::MessageReceived],
        1_000,
    ))?;
    webhook(store, "wh_off", "sel_a")?;
    disable(store, "sel_a", "wh_off", 1_000)?;
    webhook(store, "wh_other_seller", "sel_b")?;
    // Storing an event alone queues nothing.
    store.insert_event(&event("evt_0", "sel_a", 1_500))?;
    assert_eq!(store.queue_depth()?, 0);

    assert_eq!(store.publish_event(&event("evt_1", "sel_a", 2_000))?, 2);
    assert_eq!(store.queue_depth()?, 2);
    assert_eq!(store.next_due()?, Some(2_000));
    assert!(
        claim(store, 1_999, 10)?.is_empty(),
        "not due before created_at"
    );
    let claims = claim(store, 2_000, 10)?;
    let mut targets: Vec<&str> = claims.iter().map(|c| c.webhook_id.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(targets, ["wh_both", "wh_yes"]);
    assert!(claims.iter().all(|c| c.event.id == "evt_1"));
    // Nobody subscribed: stored, nothing queued.
    let mut message = event("evt_2", "sel_b", 2_000);
    message.event_type = "message.received".into();
    assert_eq!(store.publish_event(&message)?, 0);
    Ok(())
}

/// Bulk queueing stores each event with one delivery to the webhook, due at `due_at`.
pub fn bulk_queueing_stores_events_due_at_a_time(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    let events = [
        event("evt_1", "sel_a", 1_000),
        event("evt_2", "sel_a", 1_000),
        event("evt_3", "sel_a", 1_000),
    ];
    assert_eq!(store.queue_events_for(&events, "wh_a", 5_000)?, 3);
    assert_eq!(store.queue_depth()?, 3);
    assert_eq!(store.next_due()?, Some(5_000));
    assert!(claim(store, 4_999, 10)?.is_empty());
    assert_eq!(
        event_ids(&claim(store, 5_000, 10)?),
        ["evt_1", "evt_2", "evt_3"]
    );
    Ok(())
}

/// Claims take due deliveries oldest due first (queue order for equal times), at most
/// as many as log ids were given, and none that is not due.
pub fn claims_take_the_oldest_due_first(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_late", "sel_a", 3_000))?;
    store.publish_event(&event("evt_early", "sel_a", 1_000))?;
    store.publish_event(&event("evt_mid_1", "sel_a", 2_000))?;
    store.publish_event(&event("evt_mid_2", "sel_a", 2_000))?;
    store.publish_event(&event("evt_future", "sel_a", 9_000))?;
    assert!(claim(store, 999, 10)?.is_empty());
    assert_eq!(
        event_ids(&claim(store, 5_000, 2)?),
        ["evt_early", "evt_mid_1"]
    );
    assert_eq!(
        event_ids(&claim(store, 5_000, 10)?),
        ["evt_mid_2", "evt_late"]
    );
    assert!(claim(store, 5_000, 10)?.is_empty());
    assert!(claim(store, 5_000, 0)?.is_empty());
    Ok(())
}

/// A claim carries what the attempt needs and logs it as `pending`.
pub fn claims_fill_in_the_attempt(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    let mut published = event("evt_1", "sel_a", 2_000);
    published.is_test = true;
    store.publish_event(&published)?;
    let c = claim_one(store, 2_500)?;
    assert_eq!(c.webhook_id, "wh_a");
    assert_eq!(c.seller_id, seller("sel_a"));
    assert_eq!(c.url, "https://example.com/wh_a");
    assert_eq!(c.event.id, "evt_1");
    assert_eq!(c.event.seller_id, seller("sel_a"));
    assert_eq!(c.event.event_type, "listing.created");
    assert_eq!(c.event.created_at, 2_000);
    assert_eq!(c.event.body, published.body);
    assert!(c.event.is_test);
    assert_eq!((c.retry_count, c.failures), (0, 0));
    assert_eq!((c.claimed_at, c.first_attempt_at), (2_500, 2_500));
    assert_eq!(c.last_success_at, None);
    let signing: Vec<&str> = c.secrets.iter().map(|s| s.expose()).collect();
    assert_eq!(
        signing,
        ["whsec_wh_a"],
        "the webhook's secrets at the claim"
    );
    let logged = logs(store, "sel_a", "wh_a")?;
    assert_eq!(logged.len(), 1);
    let row = &logged[0];
    assert_eq!(row.id, c.log_id);
    assert_eq!(row.status, AttemptStatus::Pending);
    assert_eq!((row.event_id.as_str(), row.retry_count), ("evt_1", 0));
    assert_eq!(row.created_at, 2_500);
    assert_eq!((row.response_code, row.error.as_deref()), (None, None));
    // The second attempt counts the first and keeps the schedule's start.
    finish(store, &c, Settle::Retry(2_600), None, 2_501)?;
    let second = claim_one(store, 2_600)?;
    assert_eq!((second.retry_count, second.failures), (1, 1));
    assert_eq!(second.first_attempt_at, 2_500);
    Ok(())
}

/// A leased delivery is not claimed again while its lease runs. When the lease ran out
/// with no result (the process died mid-attempt), the next claim records the attempt as
/// decided for an interruption: failed, `interrupted`, counted as a failure of the
/// delivery and the webhook, due again per the schedule; it is claimed then.
pub fn a_lapsed_lease_is_an_interrupted_failure_on_the_schedule(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let first = claim_one(store, 1_000)?; // leased until 1 100
    assert!(claim(store, 1_000, 10)?.is_empty());
    assert!(claim(store, 1_099, 10)?.is_empty());
    assert_eq!(store.queue_depth()?, 1, "a leased delivery is still queued");
    assert_eq!(
        store.next_due()?,
        Some(1_100),
        "due when the lease runs out"
    );
    assert!(claim(store, 1_100, 10)?.is_empty(), "due a minute later");
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(store.next_due()?, Some(1_160));
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 1);
    let row = &logs(store, "sel_a", "wh_a")?[0];
    assert_eq!(row.id, first.log_id);
    assert_eq!(row.status, AttemptStatus::Failed);
    assert_eq!(row.error.as_deref(), Some(INTERRUPTED));
    assert_eq!((row.response_code, row.response_time_ms), (None, None));
    assert_eq!((row.retry_count, row.next_retry), (0, Some(1_160)));
    assert_eq!(row.created_at, 1_000);
    let second = claim_one(store, 1_160)?;
    assert_eq!(second.delivery_id, first.delivery_id);
    assert_ne!(second.log_id, first.log_id);
    assert_eq!((second.retry_count, second.failures), (1, 1));
    assert_eq!(second.first_attempt_at, 1_000);
    // Finishing releases the lease: the retry is due at its own time.
    finish(store, &second, Settle::Retry(1_200), None, 1_170)?;
    assert_eq!(claim_one(store, 1_200)?.delivery_id, first.delivery_id);
    Ok(())
}

/// An event that kills the process at every attempt is not retried forever: each
/// interruption moves the schedule on (1 min, 5 min, 30 min, 2 h, 24 h), and the sixth
/// fails the delivery for good, disabling the webhook that never succeeded.
pub fn six_interrupted_attempts_fail_the_delivery_for_good(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let mut at = 1_000;
    let mut starts = Vec::new();
    for n in 0..6 {
        let c = claim_one(store, at)?;
        assert_eq!((c.retry_count, c.failures), (n, n));
        starts.push(at);
        // The process dies; the lease (100 s) runs out.
        assert!(claim(store, at + 100, 10)?.is_empty());
        match store.next_due()? {
            Some(next) => at = next,
            None => break,
        }
    }
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [160, 400, 1_900, 7_300, 86_500], "lease + schedule");
    assert_eq!(store.queue_depth()?, 0, "failed for good");
    assert!(claim(store, 9_999_999, 10)?.is_empty());
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.consecutive_failures, 6);
    assert_eq!(webhook.status, WebhookStatus::Disabled);
    let logged = logs(store, "sel_a", "wh_a")?;
    assert_eq!(logged.len(), 6);
    assert!(logged
        .iter()
        .all(|a| a.status == AttemptStatus::Failed && a.error.as_deref() == Some(INTERRUPTED)));
    Ok(())
}

/// A disabled webhook's deliveries stay queued but are never claimed or due.
pub fn disabled_webhooks_keep_their_deliveries_unclaimed(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    disable(store, "sel_a", "wh_a", 1_000)?;
    assert_eq!(store.queue_depth()?, 2);
    let claims = claim(store, 5_000, 10)?;
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].webhook_id, "wh_b");
    assert_eq!(store.next_due()?, Some(5_100), "only wh_b's lease");
    Ok(())
}

/// `next_due` is the earliest time a delivery of an active webhook becomes claimable:
/// its due time, or its lease's end when that is later.
pub fn next_due_walks_unleased_and_leased_deliveries_of_active_webhooks(
    store: &dyn Store,
) -> Result<(), StoreError> {
    assert_eq!(store.next_due()?, None);
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_off", "sel_a")?;
    store.queue_events_for(&[event("evt_late", "sel_a", 1_000)], "wh_a", 5_000)?;
    store.queue_events_for(&[event("evt_early", "sel_a", 1_000)], "wh_a", 3_000)?;
    assert_eq!(store.next_due()?, Some(3_000));
    // A disabled webhook's deliveries are kept but never due.
    store.queue_events_for(&[event("evt_off", "sel_a", 1_000)], "wh_off", 100)?;
    disable(store, "sel_a", "wh_off", 1_000)?;
    assert_eq!(store.next_due()?, Some(3_000));
    // Claimed at 3 000 with a lease to 3 100: due again when the lease runs out.
    let claims = claim_leased(store, 3_000, 3_100, vec!["log_n1".into()])?;
    assert_eq!(event_ids(&claims), ["evt_early"]);
    assert_eq!(store.next_due()?, Some(3_100));
    // At 5 000 the lapsed claim is recorded as interrupted (due again a minute later)
    // and the late one, due at 5 000, is claimed, leased to 9 000.
    let claims = claim_leased(store, 5_000, 9_000, vec!["log_n2".into()])?;
    assert_eq!(event_ids(&claims), ["evt_late"]);
    assert_eq!(store.next_due()?, Some(5_060));
    // Finishing releases the lease: the retry is due at its time, before the other.
    finish(store, &claims[0], Settle::Retry(5_030), None, 5_000)?;
    assert_eq!(store.next_due()?, Some(5_030));
    Ok(())
}

/// `Delivered`: the log row is completed, the delivery leaves the queue, the webhook's
/// failure count is cleared and its last success recorded.
pub fn finishing_delivered_settles_the_delivery_and_the_webhook(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    let [one, two] = <[Claim; 2]>::try_from(claim(store, 1_000, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    finish(store, &one, Settle::Retry(1_060), None, 1_001)?;
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 1);
    assert!(!finish(store, &two, Settle::Delivered, None, 1_002)?);
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 0);
    assert_eq!(store.queue_depth()?, 1);
    let row = logs(store, "sel_a", "wh_a")?
        .into_iter()
        .find(|a| a.id == two.log_id);
    let row = found(row, "the log row")?;
    assert_eq!(row.status, AttemptStatus::Delivered);
    assert_eq!(row.response_code, Some(200));
    assert_eq!(row.response_time_ms, Some(7));
    assert_eq!(row.delivered_at, Some(1_002));
    assert_eq!((row.error, row.next_retry), (None, None));
    // Never claimed again; the other delivery sees the success.
    let next = claim_one(store, 1_060)?;
    assert_eq!(next.event.id, "evt_1");
    assert_eq!(next.last_success_at, Some(1_002));
    finish(store, &next, Settle::Delivered, None, 1_061)?;
    assert!(claim(store, 99_999, 10)?.is_empty());
    assert_eq!(store.queue_depth()?, 0);
    Ok(())
}

/// `Retry(at)`: the delivery stays queued, due at `at`, with one more failure counted on
/// it and on the webhook; the log row is completed.
pub fn finishing_retry_counts_the_failure_and_reschedules(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let c = claim_one(store, 1_000)?;
    assert!(!finish(store, &c, Settle::Retry(1_060), None, 1_000)?);
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(store.next_due()?, Some(1_060));
    assert!(
        claim(store, 1_059, 10)?.is_empty(),
        "not due before its time"
    );
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.consecutive_failures, 1);
    assert_eq!(webhook.status, WebhookStatus::Active);
    let row = &logs(store, "sel_a", "wh_a")?[0];
    assert_eq!(row.status, AttemptStatus::Failed);
    assert_eq!(row.response_code, Some(500));
    assert_eq!(row.error.as_deref(), Some("Internal Server Error"));
    assert_eq!(row.next_retry, Some(1_060));
    assert_eq!(row.delivered_at, None);
    // Due at its time although the claim's lease ran to 1 100: finishing released it.
    let again = claim_one(store, 1_060)?;
    assert_eq!((again.failures, again.retry_count), (1, 1));
    Ok(())
}

/// `Fail`: the delivery is failed for good (out of the queue, never claimed again); the
/// failure is counted; the webhook stays active.
pub fn finishing_fail_ends_the_delivery_for_good(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let c = claim_one(store, 1_000)?;
    assert!(!finish(store, &c, Settle::Fail, None, 1_001)?);
    assert_eq!(store.queue_depth()?, 0);
    assert_eq!(store.next_due()?, None);
    assert!(claim(store, 99_999, 10)?.is_empty());
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.consecutive_failures, 1);
    assert_eq!(webhook.status, WebhookStatus::Active);
    assert_eq!(
        logs(store, "sel_a", "wh_a")?[0].status,
        AttemptStatus::Failed
    );
    Ok(())
}

/// A `Disable` without a condition disables an active webhook in the same write (the
/// delivery's fate is applied too) and reports it; an already disabled one is not
/// disabled again.
pub fn finishing_with_disable_disables_active_webhooks_only(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    let [one, two] = <[Claim; 2]>::try_from(claim(store, 1_000, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    let gone = || Disable {
        reason: "gone".into(),
        unless_success_since: None,
    };
    // Kept pending, due now, for when the webhook is re-enabled (a 410).
    assert!(finish(
        store,
        &one,
        Settle::Retry(1_001),
        Some(gone()),
        1_001
    )?);
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.status, WebhookStatus::Disabled);
    assert_eq!(webhook.consecutive_failures, 1);
    assert_eq!(webhook.disabled_at, Some(1_001));
    assert_eq!(webhook.disabled_reason.as_deref(), Some("gone"));
    assert_eq!(store.queue_depth()?, 2);
    assert_eq!(store.next_due()?, None);
    // The attempt in flight when it was disabled finishes: no second disabling.
    assert!(!finish(
        store,
        &two,
        Settle::Retry(1_060),
        Some(gone()),
        1_002
    )?);
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.consecutive_failures, 2);
    assert_eq!(
        webhook.disabled_at,
        Some(1_001),
        "the first disabling's time stays"
    );
    enable(store, "sel_a", "wh_a", 2_000)?;
    assert_eq!(claim(store, 2_000, 10)?.len(), 2);
    Ok(())
}

/// `unless_success_since`: a success at or after that time (recorded after the claim,
/// by another attempt) vetoes the disabling; an earlier one does not.
pub fn disable_unless_success_since_is_a_compare_and_set(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    store.publish_event(&event("evt_3", "sel_a", 1_000))?;
    let [failing, lucky, last] = <[Claim; 3]>::try_from(claim(store, 1_000, 3)?)
        .map_err(|_| StoreError::Corrupt("three claims".into()))?;
    assert_eq!(failing.last_success_at, None);
    // Another worker delivers at 1 005, after `failing` was claimed.
    finish(store, &lucky, Settle::Delivered, None, 1_005)?;
    let since = |at| {
        Some(Disable {
            reason: "schedule".into(),
            unless_success_since: Some(at),
        })
    };
    assert!(!finish(store, &failing, Settle::Fail, since(1_005), 1_010)?);
    assert_eq!(get(store, "sel_a", "wh_a")?.status, WebhookStatus::Active);
    // A success before `since` does not veto.
    assert!(finish(store, &last, Settle::Fail, since(1_006), 1_010)?);
    assert_eq!(get(store, "sel_a", "wh_a")?.status, WebhookStatus::Disabled);
    Ok(())
}

/// The depth counts deliveries not yet delivered nor failed for good, leased or not, of
/// every webhook, through every change: publish, bulk queueing, settling, a failed write,
/// deleting a webhook.
pub fn queue_depth_counts_pending_deliveries(store: &dyn Store) -> Result<(), StoreError> {
    assert_eq!(store.queue_depth()?, 0);
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    store.publish_event(&event("evt_3", "sel_a", 1_000))?;
    store.publish_event(&event("evt_4", "sel_b", 1_000))?;
    assert_eq!(store.queue_depth()?, 4);
    let [a, b] = <[Claim; 2]>::try_from(claim(store, 1_000, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    assert_eq!(store.queue_depth()?, 4);
    finish(store, &a, Settle::Delivered, None, 1_001)?;
    finish(store, &b, Settle::Fail, None, 1_001)?;
    assert_eq!(store.queue_depth()?, 2);
    store.queue_events_for(
        &[
            event("evt_5", "sel_b", 1_000),
            event("evt_6", "sel_b", 1_000),
        ],
        "wh_b",
        2_000,
    )?;
    assert_eq!(store.queue_depth()?, 4);
    // A publish that fails (an event id already stored) changes nothing.
    assert!(store
        .publish_event(&event("evt_1", "sel_a", 1_000))
        .is_err());
    assert_eq!(store.queue_depth()?, 4);
    // Deleting a webhook takes its pending deliveries with it.
    assert!(store.delete_webhook(&seller("sel_b"), "wh_b")?);
    assert_eq!(store.queue_depth()?, 2);
    Ok(())
}

/// The log row of `log_id`.
fn log_row(store: &dyn Store, log_id: &str) -> Result<Attempt, StoreError> {
    let row = logs(store, "sel_a", "wh_a")?
        .into_iter()
        .find(|a| a.id == log_id);
    found(row, log_id)
}

/// Fenced leases: a result that comes after its lease ran out and the delivery was
/// claimed again is stale. Its log row is completed as the attempt ended (marked stale,
/// no next retry); the delivery, its schedule and the webhook are left as the newer
/// claim has them, whatever the late result says (delivered, retry, give up, disable).
pub fn a_late_result_after_a_reclaim_is_stale_and_changes_nothing(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let lost = claim_one(store, 1_000)?; // leased until 1 100
    assert!(
        claim(store, 1_100, 1)?.is_empty(),
        "interrupted, due at 1 160"
    );
    let current = claim_one(store, 1_160)?;
    assert_eq!(current.delivery_id, lost.delivery_id);
    let gone = Disable {
        reason: "gone".into(),
        unless_success_since: None,
    };
    for (settle, disable) in [
        (Settle::Retry(1_101), Some(gone)),
        (Settle::Fail, None),
        (Settle::Delivered, None),
    ] {
        assert_eq!(
            try_finish(store, &lost, settle, disable, 1_150)?,
            Finished::Stale
        );
        assert_eq!(store.queue_depth()?, 1);
        assert_eq!(store.next_due()?, Some(1_260), "the current claim's lease");
        let webhook = get(store, "sel_a", "wh_a")?;
        assert_eq!(webhook.status, WebhookStatus::Active);
        assert_eq!(webhook.consecutive_failures, 1, "the interruption only");
    }
    let row = log_row(store, &lost.log_id)?;
    assert_eq!(row.status, AttemptStatus::Delivered, "as the attempt ended");
    assert_eq!(row.response_code, Some(200));
    assert_eq!((row.error.as_deref(), row.next_retry), (Some(STALE), None));
    // The current claim settles; the stale success was not recorded as the webhook's.
    finish(store, &current, Settle::Retry(1_300), None, 1_170)?;
    let next = claim_one(store, 1_300)?;
    assert_eq!((next.failures, next.last_success_at), (2, None));
    Ok(())
}

/// A result settles while its claim is the delivery's: within the lease, and also after
/// the lease ran out as long as nobody claimed the delivery again.
pub fn a_result_settles_while_its_claim_is_current(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    let [within, late] = <[Claim; 2]>::try_from(claim(store, 1_000, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    assert_eq!(
        try_finish(store, &within, Settle::Retry(5_000), None, 1_099)?,
        Finished::Settled { disabled: false }
    );
    assert_eq!(
        try_finish(store, &late, Settle::Delivered, None, 1_500)?,
        Finished::Settled { disabled: false }
    );
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(store.next_due()?, Some(5_000));
    assert_eq!(log_row(store, &late.log_id)?.error, None);
    // Settling releases the claim: the same result again is stale.
    assert_eq!(
        try_finish(store, &within, Settle::Retry(5_000), None, 1_099)?,
        Finished::Stale
    );
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 0);
    Ok(())
}

/// A give-up (or a retry, or a disabling) never overwrites a delivered delivery: here a
/// manual retry delivered it while the queued attempt was in flight.
pub fn a_give_up_after_delivered_is_refused(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let c = claim_one(store, 1_000)?;
    store.record_attempt(&Attempt {
        id: "log_manual".into(),
        webhook_id: "wh_a".into(),
        seller_id: seller("sel_a"),
        event_id: "evt_1".into(),
        event_type: "listing.created".into(),
        status: AttemptStatus::Delivered,
        response_code: Some(200),
        response_time_ms: Some(4),
        delivered_at: Some(1_010),
        error: None,
        retry_count: 1,
        next_retry: None,
        created_at: 1_010,
    })?;
    assert_eq!(store.queue_depth()?, 0);
    let schedule = Disable {
        reason: "schedule".into(),
        unless_success_since: None,
    };
    assert_eq!(
        try_finish(store, &c, Settle::Fail, Some(schedule), 1_020)?,
        Finished::Stale
    );
    assert_eq!(store.queue_depth()?, 0);
    assert!(claim(store, 99_999, 10)?.is_empty(), "still delivered");
    let webhook = get(store, "sel_a", "wh_a")?;
    assert_eq!(webhook.status, WebhookStatus::Active);
    assert_eq!(webhook.consecutive_failures, 0);
    assert_eq!(log_row(store, &c.log_id)?.error.as_deref(), Some(STALE));
    Ok(())
}

/// Two claims of one delivery never both settle: after the delivery is claimed again,
/// only the newer claim's result counts, whichever result arrives first.
pub fn two_claims_never_both_settle(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    let old_1 = claim_one(store, 1_000)?;
    let old_2 = claim_one(store, 1_000)?;
    assert!(
        claim(store, 1_100, 2)?.is_empty(),
        "interrupted, due at 1 160"
    );
    let [new_1, new_2] = <[Claim; 2]>::try_from(claim(store, 1_160, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    assert_eq!(
        (new_1.delivery_id, new_2.delivery_id),
        (old_1.delivery_id, old_2.delivery_id)
    );
    // evt_1: the old result first, then the new one.
    assert_eq!(
        try_finish(store, &old_1, Settle::Delivered, None, 1_150)?,
        Finished::Stale
    );
    assert_eq!(
        try_finish(store, &new_1, Settle::Retry(2_000), None, 1_160)?,
        Finished::Settled { disabled: false }
    );
    // evt_2: the new result first, then the old one.
    assert_eq!(
        try_finish(store, &new_2, Settle::Delivered, None, 1_150)?,
        Finished::Settled { disabled: false }
    );
    assert_eq!(
        try_finish(store, &old_2, Settle::Fail, None, 1_160)?,
        Finished::Stale
    );
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(store.next_due()?, Some(2_000));
    // new_2's success cleared the webhook's failures; evt_1 has two (its interruption
    // and new_1's): neither old result counted.
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 0);
    let again = claim_one(store, 2_000)?;
    assert_eq!((again.event.id.as_str(), again.failures), ("evt_1", 2));
    Ok(())
}

/// Results recorded at the same moment (a backend may write them together) are each
/// recorded as if alone: every delivery settled, every failure counted on the webhook,
/// every log row completed, the latest success kept.
pub fn results_finishing_together_are_each_recorded(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    for i in 0..8 {
        store.publish_event(&event(&format!("evt_{i}"), "sel_a", 1_000))?;
    }
    // Each claim's result from a thread of its own, all at once; the i-th at `at + i`.
    let finish_all = |claims: &[Claim], settle: Settle, at: u64| {
        std::thread::scope(|scope| {
            let running: Vec<_> = (0u64..)
                .zip(claims)
                .map(|(i, claim)| {
                    scope.spawn(move || try_finish(store, claim, settle, None, at + i))
                })
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| {
                        Err(StoreError::Database("recording a result panicked".into()))
                    })
                })
                .collect::<Result<Vec<Finished>, StoreError>>()
        })
    };
    let settled = Finished::Settled { disabled: false };
    let first = claim(store, 1_000, 8)?;
    assert_eq!(first.len(), 8);
    assert_eq!(
        finish_all(&first, Settle::Retry(2_000), 1_001)?,
        [settled; 8]
    );
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 8);
    assert_eq!(store.queue_depth()?, 8);
    assert!(claim(store, 1_999, 8)?.is_empty(), "all due at 2 000");
    let second = claim(store, 2_000, 8)?;
    assert_eq!(second.len(), 8);
    assert!(second.iter().all(|c| c.failures == 1 && c.retry_count == 1));
    assert_eq!(finish_all(&second, Settle::Delivered, 2_001)?, [settled; 8]);
    assert_eq!(get(store, "sel_a", "wh_a")?.consecutive_failures, 0);
    assert_eq!(store.queue_depth()?, 0);
    let rows = logs(store, "sel_a", "wh_a")?;
    assert_eq!(rows.len(), 16);
    let delivered: Vec<Option<u64>> = rows
        .iter()
        .filter(|a| a.status == AttemptStatus::Delivered)
        .map(|a| a.delivered_at)
        .collect();
    assert_eq!(delivered.len(), 8);
    assert!(delivered.iter().all(|at| matches!(at, Some(2_001..=2_008))));
    assert!(rows
        .iter()
        .filter(|a| a.status == AttemptStatus::Failed)
        .all(|a| a.next_retry == Some(2_000)));
    store.publish_event(&event("evt_last", "sel_a", 3_000))?;
    assert_eq!(claim_one(store, 3_000)?.last_success_at, Some(2_008));
    Ok(())
}

/// The lease a worker asks for with a delivered result: `next`, at `now`, as `log_id`.
fn next_lease(now: u64, log_id: &str) -> Option<NextLease> {
    Some(NextLease {
        now,
        lease_until: now + 100,
        log_id: log_id.into(),
    })
}

/// A delivered result may take its webhook's next due delivery in the same write: leased
/// and logged as `pending` like a claim's, under the token asked for, oldest due first;
/// nothing once nothing is due.
pub fn a_delivered_result_takes_the_webhooks_next_due_delivery(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    store.publish_event(&event("evt_3", "sel_a", 2_000))?;
    store.publish_event(&event("evt_b", "sel_b", 900))?;
    let first = claim(store, 1_000, 2)?;
    let mut ids = event_ids(&first);
    ids.sort_unstable();
    assert_eq!(ids, ["evt_1", "evt_b"]);
    let one = found(first.iter().find(|c| c.event.id == "evt_1"), "evt_1")?;
    let result = attempt_result(one, Settle::Delivered, None, 1_001);
    let (finished, next) = store.finish_and_take_next(&result, next_lease(1_001, "log_next"))?;
    assert_eq!(finished, Finished::Settled { disabled: false });
    let next = found(next, "the next delivery")?;
    assert_eq!(
        next.event.id, "evt_2",
        "its own webhook's, not the oldest of all"
    );
    assert_eq!(
        (next.log_id.as_str(), next.webhook_id.as_str()),
        ("log_next", "wh_a")
    );
    assert_eq!(
        (next.retry_count, next.failures, next.claimed_at),
        (0, 0, 1_001)
    );
    assert_eq!(next.last_success_at, Some(1_001));
    assert_eq!(next.secrets.len(), 1, "signed as a claim's");
    assert_eq!(log_row(store, "log_next")?.status, AttemptStatus::Pending);
    assert_eq!(
        store.queue_depth()?,
        3,
        "evt_1 delivered; evt_2 leased, still queued"
    );
    assert!(claim(store, 1_001, 10)?.is_empty(), "evt_2 is leased");
    let result = attempt_result(&next, Settle::Delivered, None, 1_002);
    let (finished, none) = store.finish_and_take_next(&result, next_lease(1_002, "log_more"))?;
    assert_eq!(finished, Finished::Settled { disabled: false });
    assert!(none.is_none(), "evt_3 is due at 2 000");
    assert_eq!(store.queue_depth()?, 2, "evt_3 and evt_b");
    Ok(())
}

/// Only a result that was delivered, held its claim within its lease and left its webhook
/// active takes the next delivery: a failure, a stale result, a lease run out and a
/// disabled webhook take nothing.
pub fn only_a_current_success_takes_the_next_delivery(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let lost = claim_leased(store, 1_000, 1_010, vec!["log_lost".into()])?;
    assert!(
        claim(store, 1_020, 1)?.is_empty(),
        "interrupted, due at 1 080"
    );
    let again = claim_one(store, 1_080)?;
    assert_eq!(again.delivery_id, lost[0].delivery_id);
    store.publish_event(&event("evt_2", "sel_a", 1_000))?;
    store.publish_event(&event("evt_3", "sel_a", 1_000))?;
    // The lost claim's success comes late: stale.
    let result = attempt_result(&lost[0], Settle::Delivered, None, 1_081);
    let (finished, next) = store.finish_and_take_next(&result, next_lease(1_081, "log_x1"))?;
    assert_eq!((finished, next.is_none()), (Finished::Stale, true));
    // The current claim fails.
    let result = attempt_result(&again, Settle::Retry(5_000), None, 1_082);
    let (finished, next) = store.finish_and_take_next(&result, next_lease(1_082, "log_x2"))?;
    assert_eq!(
        (finished, next.is_none()),
        (Finished::Settled { disabled: false }, true)
    );
    // Delivered after its lease ran out, nobody having claimed it since: it settles, but
    // its lease is not handed on (a claim may already have counted it free).
    let late = claim_leased(store, 1_082, 1_090, vec!["log_late".into()])?;
    let result = attempt_result(&late[0], Settle::Delivered, None, 1_095);
    let (finished, next) = store.finish_and_take_next(&result, next_lease(1_095, "log_x4"))?;
    assert_eq!(
        (finished, next.is_none()),
        (Finished::Settled { disabled: false }, true)
    );
    // Delivered, but the webhook was disabled meanwhile: its deliveries stay unclaimed.
    let sent = claim_one(store, 1_083)?;
    disable(store, "sel_a", "wh_a", 1_084)?;
    let result = attempt_result(&sent, Settle::Delivered, None, 1_085);
    let (finished, next) = store.finish_and_take_next(&result, next_lease(1_085, "log_x3"))?;
    assert_eq!(
        (finished, next.is_none()),
        (Finished::Settled { disabled: false }, true)
    );
    for token in ["log_x1", "log_x2", "log_x3", "log_x4"] {
        assert!(log_row(store, token).is_err(), "{token} was logged");
    }
    Ok(())
}
