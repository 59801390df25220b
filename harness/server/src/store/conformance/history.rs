//! Conformance: events as a history, the seller's listing and the retention sweep.

use super::{claim, event, finish, logs, seller, webhook};
use crate::store::{Claim, EventPage, Settle, Store, StoreError};

/// The ids of a page of `owner`'s events.
fn listed(
    store: &dyn Store,
    owner: &str,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let page = EventPage {
        limit,
        before: before.map(str::to_owned),
    };
    Ok(store
        .list_events(&seller(owner), &page)?
        .into_iter()
        .map(|e| e.id)
        .collect())
}

/// A seller's events come newest first, a page at a time after the previous page's
/// last; a cursor naming none of the seller's events yields an empty page.
pub fn events_are_paged_newest_first(store: &dyn Store) -> Result<(), StoreError> {
    for (id, owner, at) in [
        ("evt_1", "sel_a", 1_000),
        ("evt_2", "sel_a", 3_000),
        ("evt_3", "sel_a", 2_000),
        ("evt_x", "sel_b", 2_500),
        ("evt_4", "sel_a", 4_000),
    ] {
        store.insert_event(&event(id, owner, at))?;
    }
    assert_eq!(listed(store, "sel_a", None, 2)?, ["evt_4", "evt_2"]);
    assert_eq!(
        listed(store, "sel_a", Some("evt_2"), 2)?,
        ["evt_3", "evt_1"]
    );
    assert!(listed(store, "sel_a", Some("evt_1"), 2)?.is_empty());
    assert!(listed(store, "sel_a", Some("evt_x"), 2)?.is_empty());
    assert!(listed(store, "sel_a", Some("evt_none"), 2)?.is_empty());
    assert_eq!(listed(store, "sel_b", None, 10)?, ["evt_x"]);
    let found = store.list_events(
        &seller("sel_a"),
        &EventPage {
            limit: 1,
            before: None,
        },
    )?;
    let expected = event("evt_4", "sel_a", 4_000);
    assert_eq!(found.len(), 1);
    let got = &found[0];
    assert_eq!(
        (&got.id, &got.seller_id, &got.event_type, got.created_at),
        (
            &expected.id,
            &expected.seller_id,
            &expected.event_type,
            expected.created_at
        )
    );
    assert_eq!(
        (&got.body, got.is_test),
        (&expected.body, expected.is_test),
        "stored as given"
    );
    Ok(())
}

/// Retention forgets events created before the cut-off none of whose deliveries is
/// pending (delivered and failed for good alike), oldest first and `batch` at a time,
/// with their deliveries and logs; an event still pending (leased or waiting) and a
/// newer one stay, with their logs, and the queue depth does not move.
pub fn retention_forgets_old_settled_events_with_their_logs(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_done", "sel_a", 1_000))?;
    store.publish_event(&event("evt_failed", "sel_a", 1_500))?;
    let [done, failed] = <[Claim; 2]>::try_from(claim(store, 1_500, 2)?)
        .map_err(|_| StoreError::Corrupt("two claims".into()))?;
    finish(store, &done, Settle::Delivered, None, 1_501)?;
    finish(store, &failed, Settle::Fail, None, 1_501)?;
    store.publish_event(&event("evt_new", "sel_a", 1_600))?;
    let [new] = <[Claim; 1]>::try_from(claim(store, 1_600, 1)?)
        .map_err(|_| StoreError::Corrupt("one claim".into()))?;
    finish(store, &new, Settle::Delivered, None, 1_601)?;
    store.publish_event(&event("evt_leased", "sel_a", 1_700))?;
    assert_eq!(claim(store, 1_700, 1)?.len(), 1);
    store.publish_event(&event("evt_waiting", "sel_a", 1_800))?;
    let depth = store.queue_depth()?;
    assert_eq!(depth, 2);

    assert_eq!(store.purge_settled(1_550, 1)?, 1, "a batch at most");
    assert_eq!(
        listed(store, "sel_a", None, 10)?,
        ["evt_waiting", "evt_leased", "evt_new", "evt_failed"],
        "the oldest went first"
    );
    assert_eq!(store.purge_settled(1_550, 10)?, 1);
    assert_eq!(store.purge_settled(1_550, 10)?, 0, "nothing older is left");
    let mut logged: Vec<String> = logs(store, "sel_a", "wh_a")?
        .into_iter()
        .map(|a| a.event_id)
        .collect();
    logged.sort();
    assert_eq!(logged, ["evt_leased", "evt_new"], "the logs went too");
    // A later cut-off takes the newer settled event, never a pending one.
    assert_eq!(store.purge_settled(9_000, 10)?, 1);
    assert_eq!(
        listed(store, "sel_a", None, 10)?,
        ["evt_waiting", "evt_leased"]
    );
    assert_eq!(
        logs(store, "sel_a", "wh_a")?
            .into_iter()
            .map(|a| a.event_id)
            .collect::<Vec<_>>(),
        ["evt_leased"]
    );
    assert_eq!(store.queue_depth()?, depth);
    Ok(())
}
