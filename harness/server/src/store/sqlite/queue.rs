//! Events and the durable delivery queue on SQLite ([`QueueStore`]): publishing, claims
//! as leases, persisting what the dispatcher's policy decided, the due-time walk.

use rusqlite::{params, Connection, OptionalExtension};

use super::logs::ATTEMPT_COLUMNS;
use super::webhooks::events_from_json;
use super::{secs, unsigned, SqliteStore};
use crate::store::{
    AttemptResult, Claim, Finished, QueueStore, SellerId, Settle, StoreError, StoredEvent,
};

fn insert_event(conn: &Connection, event: &StoredEvent) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO events (id, seller_id, type, created_at, body, is_test)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            event.id,
            event.seller_id.0,
            event.event_type,
            secs(event.created_at),
            event.body,
            event.is_test
        ],
    )?;
    Ok(())
}

fn count_failure(conn: &Connection, webhook_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?1",
        params![webhook_id],
    )?;
    Ok(())
}

/// What a claim reads, `?1` being now; [`claim_from_row`] reads these and then the log
/// id and the claim's time.
const CLAIM_COLUMNS: &str = "d.id, d.attempts, d.failures, w.id, w.seller_id, w.url,
    e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
    COALESCE(d.first_attempt_at, ?1), w.last_success_at";

fn claim_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Claim> {
    let attempts: i64 = row.get(1)?;
    let failures: i64 = row.get(2)?;
    let created_at: i64 = row.get(9)?;
    let first_attempt_at: i64 = row.get(12)?;
    let last_success_at: Option<i64> = row.get(13)?;
    let claimed_at: i64 = row.get(15)?;
    let log_id: String = row.get(14)?;
    // A lapsed claim's attempt was counted when it was claimed.
    let attempts = if log_id.is_empty() {
        attempts
    } else {
        attempts - 1
    };
    Ok(Claim {
        delivery_id: row.get(0)?,
        log_id,
        webhook_id: row.get(3)?,
        seller_id: SellerId(row.get(4)?),
        url: row.get(5)?,
        event: StoredEvent {
            id: row.get(6)?,
            seller_id: SellerId(row.get(7)?),
            event_type: row.get(8)?,
            created_at: unsigned(created_at),
            body: row.get(10)?,
            is_test: row.get(11)?,
        },
        retry_count: u32::try_from(attempts).unwrap_or(u32::MAX),
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        claimed_at: unsigned(claimed_at),
        first_attempt_at: unsigned(first_attempt_at),
        last_success_at: last_success_at.map(unsigned),
    })
}

/// Records a claimed attempt's result in the caller's transaction, fenced by the claim's
/// token (see [`QueueStore::finish_attempt`]).
fn settle(tx: &Connection, r: &AttemptResult) -> Result<Finished, StoreError> {
    let a = &r.attempt;
    let at = secs(r.finished_at);
    // The fence: the delivery is settled only while it is pending and its claim is
    // still this attempt's. Settling releases the lease and its token.
    let settled = match r.settle {
        Settle::Delivered => tx.execute(
            "UPDATE deliveries SET status = 'delivered', finished_at = ?1,
                    leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            params![at, r.delivery_id, a.id],
        )?,
        Settle::Retry(next) => tx.execute(
            "UPDATE deliveries SET failures = failures + 1, next_attempt_at = ?1,
                    leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            params![secs(next), r.delivery_id, a.id],
        )?,
        Settle::Fail => tx.execute(
            "UPDATE deliveries SET status = 'failed', failures = failures + 1,
                    finished_at = ?1, leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            params![at, r.delivery_id, a.id],
        )?,
    } > 0;
    let (error, next_retry) = if settled {
        (a.error.as_deref(), a.next_retry)
    } else {
        (Some(r.stale_error.as_str()), None)
    };
    tx.execute(
        "UPDATE delivery_attempts SET status = ?1, response_code = ?2, response_time_ms = ?3,
                delivered_at = ?4, error = ?5, next_retry = ?6
         WHERE id = ?7",
        params![
            a.status.as_str(),
            a.response_code,
            a.response_time_ms.map(secs),
            a.delivered_at.map(secs),
            error,
            next_retry.map(secs),
            a.id
        ],
    )?;
    if !settled {
        return Ok(Finished::Stale);
    }
    match r.settle {
        Settle::Delivered => {
            tx.execute(
                "UPDATE webhooks SET consecutive_failures = 0, last_success_at = ?1
                 WHERE id = ?2",
                params![at, a.webhook_id],
            )?;
        }
        Settle::Retry(_) | Settle::Fail => count_failure(tx, &a.webhook_id)?,
    }
    let mut disabled = false;
    if let Some(disable) = &r.disable {
        // A compare-and-set: a success recorded since `unless_success_since` (by
        // another worker, a manual retry) vetoes the disabling.
        disabled = tx.execute(
            "UPDATE webhooks SET status = 'disabled', disabled_at = ?1, disabled_reason = ?2
             WHERE id = ?3 AND status = 'active'
               AND (?4 IS NULL OR last_success_at IS NULL OR last_success_at < ?4)",
            params![
                at,
                disable.reason,
                a.webhook_id,
                disable.unless_success_since.map(secs)
            ],
        )? > 0;
    }
    Ok(Finished::Settled { disabled })
}

impl QueueStore for SqliteStore {
    fn insert_event(&self, event: &StoredEvent) -> Result<(), StoreError> {
        insert_event(&self.conn(), event)
    }

    fn publish_event(&self, event: &StoredEvent) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_event(&tx, event)?;
        let targets: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, events FROM webhooks
                 WHERE seller_id = ?1 AND status = 'active' ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(params![event.seller_id.0], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut targets = Vec::new();
            for row in rows {
                let (id, events) = row?;
                if events_from_json(&events)?
                    .iter()
                    .any(|e| e.as_str() == event.event_type)
                {
                    targets.push(id);
                }
            }
            targets
        };
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO deliveries (event_id, webhook_id, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, 'pending', ?3, ?3)",
            )?;
            for webhook_id in &targets {
                insert.execute(params![event.id, webhook_id, secs(event.created_at)])?;
            }
        }
        tx.commit()?;
        Ok(targets.len())
    }

    fn queue_events_for(
        &self,
        events: &[StoredEvent],
        webhook_id: &str,
        due_at: u64,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO deliveries (event_id, webhook_id, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, 'pending', ?3, ?4)",
            )?;
            for event in events {
                insert_event(&tx, event)?;
                insert.execute(params![
                    event.id,
                    webhook_id,
                    secs(due_at),
                    secs(event.created_at)
                ])?;
            }
        }
        tx.commit()?;
        Ok(events.len())
    }

    fn claim_due(
        &self,
        now: u64,
        lease_until: u64,
        log_ids: Vec<String>,
        interrupted: &dyn Fn(&Claim) -> AttemptResult,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Lapsed claims first: each attempt whose lease ran out with no result is
        // recorded as the caller decided, fenced by its token like any result.
        let lapsed = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {CLAIM_COLUMNS}, d.lease_token, a.created_at
                 FROM deliveries d INDEXED BY deliveries_leased
                 JOIN webhooks w ON w.id = d.webhook_id
                 JOIN events e ON e.id = d.event_id
                 JOIN delivery_attempts a ON a.id = d.lease_token
                 WHERE d.leased_until IS NOT NULL AND d.leased_until <= ?1
                   AND d.status = 'pending' AND w.status = 'active'
                 ORDER BY d.leased_until, d.id"
            ))?;
            let rows = stmt.query_map(params![secs(now)], claim_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        for claim in &lapsed {
            settle(&tx, &interrupted(claim))?;
        }
        let mut claims = {
            let mut due = tx.prepare_cached(&format!(
                "SELECT {CLAIM_COLUMNS}, '', ?1
                 FROM deliveries d
                 JOIN webhooks w ON w.id = d.webhook_id
                 JOIN events e ON e.id = d.event_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                   AND (d.leased_until IS NULL OR d.leased_until <= ?1)
                   AND w.status = 'active'
                 ORDER BY d.next_attempt_at, d.id
                 LIMIT ?2"
            ))?;
            let limit = i64::try_from(log_ids.len()).unwrap_or(i64::MAX);
            let rows = due.query_map(params![secs(now), limit], claim_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        for (claim, log_id) in claims.iter_mut().zip(log_ids) {
            claim.log_id = log_id;
            tx.execute(
                "UPDATE deliveries SET leased_until = ?1, lease_token = ?2,
                        attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?3)
                 WHERE id = ?4",
                params![
                    secs(lease_until),
                    claim.log_id,
                    secs(now),
                    claim.delivery_id
                ],
            )?;
            tx.execute(
                &format!(
                    "INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}, delivery_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, NULL, NULL, NULL, ?6, NULL, ?7, ?8)"
                ),
                params![
                    claim.log_id,
                    claim.webhook_id,
                    claim.seller_id.0,
                    claim.event.id,
                    claim.event.event_type,
                    claim.retry_count,
                    secs(now),
                    claim.delivery_id
                ],
            )?;
        }
        tx.commit()?;
        Ok(claims)
    }

    fn finish_attempt(&self, r: &AttemptResult) -> Result<Finished, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let finished = settle(&tx, r)?;
        tx.commit()?;
        Ok(finished)
    }

    fn next_due(&self) -> Result<Option<u64>, StoreError> {
        // Two index walks instead of a scan of every pending row: the earliest unleased
        // delivery in `deliveries_due` order (stopping at the first of an active webhook),
        // and the few leased ones (in flight, or left by a crash) through their partial
        // index, each due when both its time and its lease have come.
        let conn = self.conn();
        let unleased: Option<i64> = conn
            .query_row(
                "SELECT d.next_attempt_at
                 FROM deliveries d INDEXED BY deliveries_due
                 JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.status = 'pending' AND d.leased_until IS NULL AND w.status = 'active'
                 ORDER BY d.next_attempt_at
                 LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let leased: Option<i64> = conn.query_row(
            "SELECT MIN(MAX(d.next_attempt_at, d.leased_until))
             FROM deliveries d INDEXED BY deliveries_leased
             JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.leased_until IS NOT NULL AND d.status = 'pending' AND w.status = 'active'",
            [],
            |row| row.get(0),
        )?;
        let due = match (unleased, leased) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(due.map(unsigned))
    }

    fn queue_depth(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
            [],
            |row| row.get(0),
        )?;
        Ok(unsigned(n))
    }
}
