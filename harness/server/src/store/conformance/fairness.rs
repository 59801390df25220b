//! Conformance: claims are fair between endpoints (PROTOCOL §5): an in-flight limit per
//! webhook counting every lease it holds, turns between webhooks, the limit given by the
//! webhook's consecutive failures, and a next-due time that waits for nothing a limit
//! holds back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{claim_leased, event, event_ids, finish, interrupted, webhook};
use crate::store::{Claim, ClaimRequest, Claimed, Settle, Store, StoreError};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// Claims up to `n` at `now` (leases to `now + 100`) with `limit` as the in-flight limit
/// for a webhook with that many consecutive failures.
fn claim_limited(
    store: &dyn Store,
    now: u64,
    n: usize,
    limit: impl Fn(u32) -> usize + Send + Sync + 'static,
) -> Result<Claimed, StoreError> {
    store.claim_due(ClaimRequest {
        now,
        lease_until: now + 100,
        log_ids: (0..n)
            .map(|_| format!("log_f{}", NEXT.fetch_add(1, Ordering::Relaxed)))
            .collect(),
        in_flight_limit: Arc::new(limit),
        interrupted: Arc::new(interrupted(now)),
    })
}

fn of<'a>(claims: &'a [Claim], webhook_id: &str) -> Vec<&'a str> {
    claims
        .iter()
        .filter(|c| c.webhook_id == webhook_id)
        .map(|c| c.event.id.as_str())
        .collect()
}

/// `n` events of `owner`, `evt_<prefix><i>`, created (and due) at `at + i`.
fn backlog(
    store: &dyn Store,
    owner: &str,
    prefix: &str,
    at: u64,
    n: u64,
) -> Result<(), StoreError> {
    for i in 0..n {
        store.publish_event(&event(&format!("evt_{prefix}{i}"), owner, at + i))?;
    }
    Ok(())
}

/// A webhook never holds more leases than its limit, counting the leases it already
/// holds: its backlog waits while another webhook's deliveries are claimed, and a
/// finished attempt makes room for one more.
pub fn a_webhook_holds_at_most_its_in_flight_limit(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    backlog(store, "sel_a", "a", 1_000, 20)?;
    backlog(store, "sel_b", "b", 1_050, 3)?;
    let two = |_| 2;
    let first = claim_limited(store, 2_000, 10, two)?;
    assert_eq!(
        of(&first.claims, "wh_a"),
        ["evt_a0", "evt_a1"],
        "oldest first, two at most"
    );
    assert_eq!(of(&first.claims, "wh_b"), ["evt_b0", "evt_b1"]);
    assert_eq!(first.claims.len(), 4);
    let full = claim_limited(store, 2_001, 10, two)?;
    assert!(
        full.claims.is_empty(),
        "both at their limit: {:?}",
        event_ids(&full.claims)
    );
    // Nothing due that a limit does not hold back: the next chance is the first lease's end.
    assert_eq!(full.next_due, Some(2_100));
    finish(store, &first.claims[0], Settle::Delivered, None, 2_002)?;
    let after = claim_limited(store, 2_002, 10, two)?;
    assert_eq!(
        event_ids(&after.claims),
        ["evt_a2"],
        "one finished, one more claimed"
    );
    Ok(())
}

/// Webhooks take turns: with fewer claims than due deliveries, each webhook with due
/// deliveries gets one per turn, the one whose oldest due delivery waited longest first,
/// however long the other's queue is.
pub fn webhooks_take_turns_oldest_waiting_first(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    webhook(store, "wh_c", "sel_c")?;
    backlog(store, "sel_a", "a", 1_000, 500)?;
    backlog(store, "sel_b", "b", 1_700, 2)?;
    backlog(store, "sel_c", "c", 1_600, 5)?;
    let claims = claim(store, 2_000, 5, usize::MAX)?;
    assert_eq!(of(&claims, "wh_a"), ["evt_a0", "evt_a1"]);
    assert_eq!(of(&claims, "wh_c"), ["evt_c0", "evt_c1"]);
    assert_eq!(
        of(&claims, "wh_b"),
        ["evt_b0"],
        "b waited least: the fifth claim is a's"
    );
    let claims = claim(store, 2_000, 7, usize::MAX)?;
    assert_eq!(of(&claims, "wh_b"), ["evt_b1"], "b holds no more");
    assert_eq!(of(&claims, "wh_c"), ["evt_c2", "evt_c3", "evt_c4"]);
    assert_eq!(of(&claims, "wh_a"), ["evt_a2", "evt_a3", "evt_a4"]);
    Ok(())
}

fn claim(store: &dyn Store, now: u64, n: usize, limit: usize) -> Result<Vec<Claim>, StoreError> {
    Ok(claim_limited(store, now, n, move |_| limit)?.claims)
}

/// The limit is asked for with the webhook's consecutive failures, so a failing endpoint
/// can be held to fewer attempts at once; a success restores its limit.
pub fn the_limit_follows_consecutive_failures(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    backlog(store, "sel_a", "a", 1_000, 10)?;
    let limit = |failures: u32| if failures >= 2 { 1 } else { 3 };
    let claims = claim_limited(store, 2_000, 10, limit)?.claims;
    assert_eq!(claims.len(), 3, "healthy: three at once");
    finish(store, &claims[0], Settle::Retry(9_000), None, 2_001)?;
    finish(store, &claims[1], Settle::Retry(9_000), None, 2_001)?;
    finish(store, &claims[2], Settle::Retry(9_000), None, 2_001)?;
    let claims = claim_limited(store, 2_002, 10, limit)?.claims;
    assert_eq!(
        event_ids(&claims),
        ["evt_a3"],
        "three failures in a row: one at a time"
    );
    assert!(claim_limited(store, 2_002, 10, limit)?.claims.is_empty());
    finish(store, &claims[0], Settle::Delivered, None, 2_003)?;
    let claims = claim_limited(store, 2_003, 10, limit)?.claims;
    assert_eq!(
        event_ids(&claims),
        ["evt_a4", "evt_a5", "evt_a6"],
        "a success restores it"
    );
    Ok(())
}

/// When a claim takes nothing, its next-due time is the earliest delivery a claim could
/// take: a webhook under its limit whose next delivery is due later, or a lease's end;
/// never the due backlog of a webhook at its limit. A claim that took something says
/// to claim again now.
pub fn next_due_skips_what_a_limit_holds_back(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    backlog(store, "sel_a", "a", 1_000, 5)?;
    store.publish_event(&event("evt_b_later", "sel_b", 2_050))?;
    let one = |_| 1;
    let took = claim_limited(store, 2_000, 10, one)?;
    assert_eq!(event_ids(&took.claims), ["evt_a0"]);
    assert_eq!(took.next_due, Some(2_000), "it took something: claim again");
    let none = claim_limited(store, 2_001, 10, one)?;
    assert!(none.claims.is_empty());
    assert_eq!(
        none.next_due,
        Some(2_050),
        "b's delivery, not a's held-back backlog"
    );
    let b = claim_limited(store, 2_050, 10, one)?;
    assert_eq!(event_ids(&b.claims), ["evt_b_later"]);
    let none = claim_limited(store, 2_051, 10, one)?;
    assert_eq!(none.next_due, Some(2_100), "then the first lease's end");
    // What held a's backlog back was the limit alone.
    let all = claim_leased(store, 2_051, 2_151, vec!["log_x".into(), "log_y".into()])?;
    assert_eq!(event_ids(&all), ["evt_a1", "evt_a2"]);
    Ok(())
}
