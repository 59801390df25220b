//! Cases for a store that several server instances share (PostgreSQL): each takes
//! handles on one fresh database, one per instance, and uses them from as many threads
//! at once. SQLite is served by one process, so only backends made for sharing run
//! these (see [`shared_store_conformance!`](crate::shared_store_conformance)).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{claim, event, finish, interrupted, try_finish, webhook};
use crate::store::{ClaimRequest, Finished, Settle, Store, StoreError};

/// A case on several handles of one fresh store.
pub type SharedCase = fn(&[&dyn Store]) -> Result<(), StoreError>;

fn each<T: Send>(
    instances: &[&dyn Store],
    work: impl Fn(usize, &dyn Store) -> Result<T, StoreError> + Sync,
) -> Result<Vec<T>, StoreError> {
    std::thread::scope(|scope| {
        let running: Vec<_> = instances
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let work = &work;
                scope.spawn(move || work(i, *store))
            })
            .collect();
        running
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .map_err(|_| StoreError::Database("an instance's thread panicked".into()))?
            })
            .collect()
    })
}

/// Instances claiming at once from the same queues never lease a delivery twice, and
/// between them take every due delivery.
pub fn instances_never_claim_the_same_delivery(instances: &[&dyn Store]) -> Result<(), StoreError> {
    let first = instances[0];
    for w in 0..5 {
        webhook(first, &format!("wh_{w}"), "sel_a")?;
    }
    for n in 0..60 {
        first.publish_event(&event(&format!("evt_{n}"), "sel_a", 1_000))?;
    }
    let taken = each(instances, |_, store| {
        let mut mine = Vec::new();
        loop {
            let claims = claim(store, 2_000, 7)?;
            if claims.is_empty() {
                return Ok(mine);
            }
            mine.extend(claims.into_iter().map(|c| c.delivery_id));
        }
    })?;
    let all: Vec<i64> = taken.iter().flatten().copied().collect();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a delivery was claimed twice");
    assert_eq!(all.len(), 5 * 60, "every due delivery was claimed");
    Ok(())
}

/// An endpoint's in-flight limit holds across instances: claiming at once, they hold
/// no more leases on it between them than the limit.
pub fn instances_share_an_endpoints_in_flight_limit(
    instances: &[&dyn Store],
) -> Result<(), StoreError> {
    let first = instances[0];
    webhook(first, "wh_a", "sel_a")?;
    for n in 0..40 {
        first.publish_event(&event(&format!("evt_{n}"), "sel_a", 1_000))?;
    }
    let limit = 3;
    let taken = each(instances, |i, store| {
        let mut mine = 0;
        for round in 0..10 {
            let claimed = store.claim_due(ClaimRequest {
                now: 2_000,
                lease_until: 2_100,
                log_ids: (0..5).map(|n| format!("log_{i}_{round}_{n}")).collect(),
                in_flight_limit: Arc::new(move |_| limit),
                interrupted: Arc::new(interrupted(2_000)),
            })?;
            mine += claimed.claims.len();
        }
        Ok(mine)
    })?;
    assert_eq!(taken.iter().sum::<usize>(), limit, "leases held: {taken:?}");
    Ok(())
}

/// A result that comes back after its instance lost the lease (it stalled; another
/// instance recorded the lapse and claimed again) changes nothing; the current claim's
/// result settles.
pub fn a_stalled_instances_late_result_is_stale(
    instances: &[&dyn Store],
) -> Result<(), StoreError> {
    let (stalled, other) = (instances[0], instances[1]);
    webhook(stalled, "wh_a", "sel_a")?;
    stalled.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let lost = claim(stalled, 1_000, 1)?;
    let current = claim(other, 1_200, 1)?;
    assert_eq!(current.len(), 0, "the retry is not due yet");
    let current = claim(other, 10_000, 1)?;
    assert_eq!(current.len(), 1, "the delivery is claimed again once due");
    assert_eq!(
        try_finish(stalled, &lost[0], Settle::Delivered, None, 10_001)?,
        Finished::Stale
    );
    assert!(!finish(
        other,
        &current[0],
        Settle::Delivered,
        None,
        10_002
    )?);
    assert_eq!(other.queue_depth()?, 0);
    Ok(())
}

/// A publish on one instance wakes the dispatcher of another
/// ([`QueueStore::watch_publishes`](crate::store::QueueStore::watch_publishes)).
pub fn a_publish_on_one_instance_wakes_the_others(
    instances: &[&dyn Store],
) -> Result<(), StoreError> {
    let (watching, publishing) = (instances[0], instances[1]);
    webhook(publishing, "wh_a", "sel_a")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Database(e.to_string()))?;
    let wake = Arc::new(tokio::sync::Notify::new());
    watching.watch_publishes(Arc::clone(&wake));
    // Listening starts with one wake, for anything published before it.
    let woken = || {
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), wake.notified())
                .await
                .is_ok()
        })
    };
    assert!(woken(), "the watcher never started listening");
    publishing.publish_event(&event("evt_1", "sel_a", 1_000))?;
    assert!(woken(), "the publish woke no other instance");
    Ok(())
}

/// Calls `$callback! { [$args] case, ... }` with every shared case.
#[doc(hidden)]
#[macro_export]
macro_rules! __shared_store_conformance_cases {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! {
            [$($args)*]
            instances_never_claim_the_same_delivery,
            instances_share_an_endpoints_in_flight_limit,
            a_stalled_instances_late_result_is_stale,
            a_publish_on_one_instance_wakes_the_others,
        }
    };
}

/// Expands to one `#[test]` per shared case, running it with `$with_stores`, a
/// `fn(SharedCase) -> Result<(), StoreError>` that runs a case on several handles of one
/// fresh store.
#[macro_export]
macro_rules! shared_store_conformance {
    ($with_stores:path) => {
        $crate::__shared_store_conformance_cases! {
            [$crate::__shared_store_conformance_tests] $with_stores
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __shared_store_conformance_tests {
    ([$with_stores:path] $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() -> Result<(), $crate::store::StoreError> {
                $with_stores($crate::store::conformance::shared::$case)
            }
        )*
    };
}
