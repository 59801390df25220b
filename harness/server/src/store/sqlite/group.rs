//! Group commit on SQLite: the queue's frequent writes (publishes, claims, attempt
//! results) share transactions, so that with `synchronous = FULL` one sync of the WAL
//! makes a whole group durable instead of one sync per write. Who writes a group and when
//! is `store::group`'s rule; here, a group is one transaction and each write runs in a
//! savepoint of its group's transaction, so one that fails is rolled back alone and its
//! writer gets the error; the others are committed. Within a group, attempt results are
//! applied first and claims last, so a claim sees the room the results leave at their
//! endpoints. A caller returns only once its write is committed (or has failed): a `202`
//! still means durable.

use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::store::group::{self, Outcome};
use crate::store::{
    AttemptResult, Claim, ClaimRequest, Claimed, Finished, NextLease, StoreError, StoredEvent,
};

/// A write that may share a transaction.
pub(super) enum Write {
    /// `publish_event`.
    Publish(StoredEvent),
    /// `finish_attempt`, `finish_and_take_next`.
    Finish(Box<AttemptResult>, Option<NextLease>),
    /// `claim_due`.
    Claim(ClaimRequest),
}

/// What a [`Write`] returned.
pub(super) enum Written {
    Published(usize),
    Finished(Finished, Option<Box<Claim>>),
    Claimed(Claimed),
}

/// The queue of writes waiting for a group (see `store::group`).
#[derive(Default)]
pub(super) struct GroupCommit(group::GroupCommit<Write, Written>);

impl GroupCommit {
    /// Writes `write` in a group transaction on `conn` (applied with `apply`) and returns
    /// its result once the group is committed.
    pub(super) fn write(
        &self,
        conn: &Mutex<Connection>,
        write: Write,
        apply: fn(&Connection, &Write) -> Result<Written, StoreError>,
    ) -> Result<Written, StoreError> {
        self.0.write(write, |group, results| {
            commit_group(&lock(conn), group, apply, results);
        })
    }

    /// How many groups were committed (or tried) so far.
    #[cfg(test)]
    pub(super) fn groups(&self) -> u64 {
        self.0.groups()
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Applies `group` in one transaction, each write in a savepoint, and writes each
/// write's result into `results` (same order). If the transaction cannot begin or
/// commit, every write gets that error: none of them was written.
fn commit_group(
    conn: &Connection,
    group: &[(u64, Write)],
    apply: fn(&Connection, &Write) -> Result<Written, StoreError>,
    results: &mut [Outcome<Written>],
) {
    let fail_all = |results: &mut [Outcome<Written>], e: &rusqlite::Error| {
        for (_, result) in results.iter_mut() {
            *result = Err(StoreError::Database(e.to_string()));
        }
    };
    if !conn.is_autocommit() {
        // A previous group was cut off mid-transaction (a panic): nothing of it was
        // committed, and its writers were told so.
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        fail_all(results, &e);
        return;
    }
    // Results first, claims last: a claim then sees the room the results in its own
    // group leave at their endpoints. The writes of a group are concurrent (none of
    // their callers has an answer yet), so any order is one they could have had.
    let mut order: Vec<usize> = (0..group.len()).collect();
    order.sort_by_key(|&i| match group[i].1 {
        Write::Finish(..) => 0,
        Write::Publish(_) => 1,
        Write::Claim(_) => 2,
    });
    for i in order {
        results[i].1 = in_savepoint(conn, |conn| apply(conn, &group[i].1));
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        fail_all(results, &e);
    }
}

/// Runs `f` in a savepoint: released when it succeeds, rolled back when it fails.
fn in_savepoint(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<Written, StoreError>,
) -> Result<Written, StoreError> {
    conn.prepare_cached("SAVEPOINT write")?.execute([])?;
    match f(conn) {
        Ok(written) => {
            conn.prepare_cached("RELEASE write")?.execute([])?;
            Ok(written)
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO write")?.execute([])?;
            conn.prepare_cached("RELEASE write")?.execute([])?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::conformance::{attempt_result, event, webhook};
    use crate::store::sqlite::{queue::apply, SqliteStore};
    use crate::store::{QueueStore, Settle};

    fn request(now: u64, log_id: &str) -> ClaimRequest {
        ClaimRequest {
            now,
            lease_until: now + 100,
            log_ids: vec![log_id.into()],
            in_flight_limit: Arc::new(|_| 1),
            interrupted: Arc::new(|_| unreachable!("no lease lapses here")),
        }
    }

    /// In one group, a result is applied before a claim queued ahead of it: the claim
    /// sees the room the result leaves at its endpoint (here a limit of one).
    #[test]
    fn a_claim_sees_the_room_a_result_of_its_group_leaves() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        webhook(&store, "wh_g", "sel_g")?;
        store.publish_event(&event("evt_1", "sel_g", 1_000))?;
        store.publish_event(&event("evt_2", "sel_g", 1_000))?;
        let first = store.claim_due(request(1_000, "log_1"))?.claims;
        assert_eq!(first.len(), 1);
        assert!(
            store.claim_due(request(1_000, "log_x"))?.claims.is_empty(),
            "at its limit"
        );
        let group = vec![
            (0, Write::Claim(request(1_001, "log_2"))),
            (
                1,
                Write::Finish(
                    Box::new(attempt_result(&first[0], Settle::Delivered, None, 1_001)),
                    None,
                ),
            ),
        ];
        let lost = || Err(StoreError::Database("not run".into()));
        let mut results = vec![(0, lost()), (1, lost())];
        commit_group(&store.conn(), &group, apply, &mut results);
        match &results[0].1 {
            Ok(Written::Claimed(claimed)) => {
                let ids: Vec<&str> = claimed.claims.iter().map(|c| c.event.id.as_str()).collect();
                assert_eq!(ids, ["evt_2"]);
            }
            _ => panic!("the claim failed"),
        }
        assert!(matches!(
            results[1].1,
            Ok(Written::Finished(
                Finished::Settled { disabled: false },
                None
            ))
        ));
        Ok(())
    }
}
