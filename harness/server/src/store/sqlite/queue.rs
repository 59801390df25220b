//! Events and the durable delivery queue on SQLite ([`QueueStore`]): publishing, claims
//! as leases, persisting what the dispatcher's policy decided, the due-time walk.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::events;
use super::group::{Write, Written};
use super::logs::ATTEMPT_COLUMNS;
use super::webhooks::signing_secrets;
use super::{secs, unsigned, SqliteStore};
use crate::store::model::events_from_json;
use crate::store::turns::{claim_in_turns, next_due, EndpointQueue, Turn};
use crate::store::{
    AttemptResult, Claim, ClaimRequest, Claimed, EventPage, Finished, NextLease, QueueStore,
    SellerId, Settle, StoreError, StoredEvent,
};

fn insert_event(conn: &Connection, event: &StoredEvent) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO events (id, seller_id, type, created_at, body, is_test)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        event.id,
        event.seller_id.0,
        event.event_type,
        secs(event.created_at),
        event.body,
        event.is_test
    ])?;
    Ok(())
}

fn count_failure(conn: &Connection, webhook_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?1",
    )?
    .execute(params![webhook_id])?;
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
    let scheme: String = row.get(16)?;
    let scheme = scheme.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(16, rusqlite::types::Type::Text, Box::new(e))
    })?;
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
        secrets: Vec::new(),
        scheme,
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
        Settle::Delivered => tx
            .prepare_cached(
                "UPDATE deliveries SET status = 'delivered', finished_at = ?1,
                    leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            )?
            .execute(params![at, r.delivery_id, a.id])?,
        Settle::Retry(next) => tx
            .prepare_cached(
                "UPDATE deliveries SET failures = failures + 1, next_attempt_at = ?1,
                    leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            )?
            .execute(params![secs(next), r.delivery_id, a.id])?,
        Settle::Fail => tx
            .prepare_cached(
                "UPDATE deliveries SET status = 'failed', failures = failures + 1,
                    finished_at = ?1, leased_until = NULL, lease_token = NULL
             WHERE id = ?2 AND status = 'pending' AND lease_token = ?3",
            )?
            .execute(params![at, r.delivery_id, a.id])?,
    } > 0;
    let (error, next_retry) = if settled {
        (a.error.as_deref(), a.next_retry)
    } else {
        (Some(r.stale_error.as_str()), None)
    };
    tx.prepare_cached(
        "UPDATE delivery_attempts SET status = ?1, response_code = ?2, response_time_ms = ?3,
                delivered_at = ?4, error = ?5, next_retry = ?6
         WHERE id = ?7",
    )?
    .execute(params![
        a.status.as_str(),
        a.response_code,
        a.response_time_ms.map(secs),
        a.delivered_at.map(secs),
        error,
        next_retry.map(secs),
        a.id
    ])?;
    if !settled {
        return Ok(Finished::Stale);
    }
    match r.settle {
        Settle::Delivered => {
            tx.prepare_cached(
                // The latest success: results finishing together may be recorded out
                // of order.
                "UPDATE webhooks SET consecutive_failures = 0,
                        last_success_at = MAX(COALESCE(last_success_at, ?1), ?1)
                 WHERE id = ?2",
            )?
            .execute(params![at, a.webhook_id])?;
        }
        Settle::Retry(_) | Settle::Fail => count_failure(tx, &a.webhook_id)?,
    }
    let mut disabled = false;
    if let Some(disable) = &r.disable {
        // A compare-and-set: a success recorded since `unless_success_since` (by
        // another worker, a manual retry) vetoes the disabling.
        disabled =
            tx.prepare_cached(
                "UPDATE webhooks SET status = 'disabled', disabled_at = ?1, disabled_reason = ?2
             WHERE id = ?3 AND status = 'active'
               AND (?4 IS NULL OR last_success_at IS NULL OR last_success_at < ?4)",
            )?
            .execute(params![
                at,
                disable.reason,
                a.webhook_id,
                disable.unless_success_since.map(secs)
            ])? > 0;
    }
    Ok(Finished::Settled { disabled })
}

/// The queue at `now` of every active webhook with deliveries pending (found through the
/// partial index `webhooks_with_pending`, migration 0008, so idle webhooks cost nothing):
/// the head of its unleased pending deliveries (one step down its
/// `deliveries_webhook_due` index, past at most its few leased rows) and its room under
/// `in_flight_limit`.
fn endpoint_queues(
    tx: &Connection,
    now: u64,
    in_flight_limit: &dyn Fn(u32) -> usize,
) -> Result<Vec<EndpointQueue>, StoreError> {
    let mut leases: HashMap<String, usize> = HashMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT webhook_id, COUNT(*) FROM deliveries INDEXED BY deliveries_leased
             WHERE leased_until IS NOT NULL AND leased_until > ?1 AND status = 'pending'
             GROUP BY webhook_id",
        )?;
        let rows = stmt.query_map(params![secs(now)], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (id, n) = row?;
            leases.insert(id, usize::try_from(n).unwrap_or(usize::MAX));
        }
    }
    let mut stmt = tx.prepare_cached(
        "SELECT w.id, w.consecutive_failures,
                (SELECT d.next_attempt_at FROM deliveries d INDEXED BY deliveries_webhook_due
                 WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.leased_until IS NULL
                 ORDER BY d.next_attempt_at LIMIT 1)
         FROM webhooks w INDEXED BY webhooks_with_pending
         WHERE w.pending > 0 AND w.status = 'active'",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let mut queues = Vec::new();
    for row in rows {
        let (webhook_id, failures, head) = row?;
        let Some(head) = head else { continue };
        let limit = in_flight_limit(u32::try_from(failures).unwrap_or(u32::MAX));
        let held = leases.get(&webhook_id).copied().unwrap_or(0);
        queues.push(EndpointQueue::new(webhook_id, unsigned(head), limit, held));
    }
    Ok(queues)
}

/// Up to `n` of `webhook_id`'s due deliveries at `now`, not leased, oldest due first.
fn due_of(tx: &Connection, now: u64, webhook_id: &str, n: usize) -> Result<Vec<Claim>, StoreError> {
    let mut due = tx.prepare_cached(&format!(
        "SELECT {CLAIM_COLUMNS}, '', ?1, w.scheme
         FROM deliveries d INDEXED BY deliveries_webhook_due
         JOIN webhooks w ON w.id = d.webhook_id
         JOIN events e ON e.id = d.event_id
         WHERE d.webhook_id = ?3 AND d.status = 'pending' AND d.next_attempt_at <= ?1
           AND d.leased_until IS NULL AND w.status = 'active'
         ORDER BY d.next_attempt_at, d.id
         LIMIT ?2"
    ))?;
    let limit = i64::try_from(n).unwrap_or(i64::MAX);
    let rows = due.query_map(params![secs(now), limit, webhook_id], claim_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Leases `claim`'s delivery until `lease_until` under its log id (the fencing token),
/// counts the attempt and logs it as `pending`.
fn lease(tx: &Connection, claim: &Claim, now: u64, lease_until: u64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE deliveries SET leased_until = ?1, lease_token = ?2,
                attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?3)
         WHERE id = ?4",
    )?
    .execute(params![
        secs(lease_until),
        claim.log_id,
        secs(now),
        claim.delivery_id
    ])?;
    tx.prepare_cached(&format!(
        "INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, NULL, NULL, NULL, ?6, NULL, ?7, ?8)"
    ))?
    .execute(params![
        claim.log_id,
        claim.webhook_id,
        claim.seller_id.0,
        claim.event.id,
        claim.event.event_type,
        claim.retry_count,
        secs(now),
        claim.delivery_id
    ])?;
    Ok(())
}

/// When the first lease of an active webhook's pending delivery runs out (or its
/// delivery is due, if later): a lapse the next claim records.
fn next_lease_end(conn: &Connection) -> Result<Option<u64>, StoreError> {
    let end: Option<i64> = conn.query_row(
        "SELECT MIN(MAX(d.next_attempt_at, d.leased_until))
         FROM deliveries d INDEXED BY deliveries_leased
         JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.leased_until IS NOT NULL AND d.status = 'pending' AND w.status = 'active'",
        [],
        |row| row.get(0),
    )?;
    Ok(end.map(unsigned))
}

/// Stores `event` and queues its deliveries (see [`QueueStore::publish_event`]), in the
/// caller's transaction.
fn publish(tx: &Connection, event: &StoredEvent) -> Result<usize, StoreError> {
    insert_event(tx, event)?;
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
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (event_id, webhook_id, status, next_attempt_at, created_at)
         VALUES (?1, ?2, 'pending', ?3, ?3)",
    )?;
    for webhook_id in &targets {
        insert.execute(params![event.id, webhook_id, secs(event.created_at)])?;
    }
    Ok(targets.len())
}

/// Takes a round of turns (see `turns.rs`): for each, leases up to its number of tokens
/// of its webhook's due deliveries at `now`, oldest due first, one under each token in
/// order, until `lease_until`.
fn take(
    tx: &Connection,
    now: u64,
    lease_until: u64,
    turns: &[Turn<'_>],
) -> Result<Vec<Vec<Claim>>, StoreError> {
    let mut round = Vec::with_capacity(turns.len());
    for &(webhook_id, tokens) in turns {
        let mut taken = due_of(tx, now, webhook_id, tokens.len())?;
        let secrets = if taken.is_empty() {
            Vec::new()
        } else {
            signing_secrets(tx, webhook_id, now)?
        };
        for (claim, token) in taken.iter_mut().zip(tokens) {
            claim.log_id.clone_from(token);
            claim.secrets.clone_from(&secrets);
            lease(tx, claim, now, lease_until)?;
        }
        round.push(taken);
    }
    Ok(round)
}

/// Records `r` and, with `next`, takes its webhook's next due delivery if its lease was
/// still running (see [`QueueStore::finish_and_take_next`]), in the caller's transaction.
fn finish(
    tx: &Connection,
    r: &AttemptResult,
    next: Option<&NextLease>,
) -> Result<(Finished, Option<Claim>), StoreError> {
    // Only a lease still running when the result came in is handed on.
    let running = match next {
        Some(next) => tx
            .prepare_cached("SELECT leased_until > ?2 FROM deliveries WHERE id = ?1")?
            .query_row(params![r.delivery_id, secs(next.now)], |row| {
                row.get::<_, Option<bool>>(0)
            })
            .optional()?
            .flatten()
            .unwrap_or(false),
        None => false,
    };
    let finished = settle(tx, r)?;
    let Some(next) = next else {
        return Ok((finished, None));
    };
    if finished != (Finished::Settled { disabled: false })
        || r.settle != Settle::Delivered
        || !running
    {
        return Ok((finished, None));
    }
    let tokens = [next.log_id.clone()];
    let round = take(
        tx,
        next.now,
        next.lease_until,
        &[(&r.attempt.webhook_id, &tokens)],
    )?;
    Ok((finished, round.into_iter().flatten().next()))
}

/// Claims due deliveries in the caller's transaction (see [`QueueStore::claim_due`]).
fn claim(tx: &Connection, request: &ClaimRequest) -> Result<Claimed, StoreError> {
    let now = request.now;
    // Lapsed claims first: each attempt whose lease ran out with no result is
    // recorded as the caller decided, fenced by its token like any result.
    let lapsed = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {CLAIM_COLUMNS}, d.lease_token, a.created_at, 'menon'
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
        settle(tx, &(request.interrupted)(claim))?;
    }
    let mut queues = endpoint_queues(tx, now, request.in_flight_limit.as_ref())?;
    let claims = claim_in_turns(&mut queues, now, &request.log_ids, |turns| {
        take(tx, now, request.lease_until, turns)
    })?;
    let next_due = if claims.is_empty() {
        next_due(&queues, next_lease_end(tx)?)
    } else {
        Some(now)
    };
    Ok(Claimed { claims, next_due })
}

/// Applies a write of a group commit (see `group.rs`) in the group's transaction.
pub(super) fn apply(tx: &Connection, write: &Write) -> Result<Written, StoreError> {
    match write {
        Write::Publish(event) => publish(tx, event).map(Written::Published),
        Write::Finish(result, next) => finish(tx, result, next.as_ref())
            .map(|(finished, claim)| Written::Finished(finished, claim.map(Box::new))),
        Write::Claim(request) => claim(tx, request).map(Written::Claimed),
    }
}

impl SqliteStore {
    fn group_write(&self, write: Write) -> Result<Written, StoreError> {
        self.group.write(&self.conn, write, apply)
    }
}

impl QueueStore for SqliteStore {
    fn insert_event(&self, event: &StoredEvent) -> Result<(), StoreError> {
        insert_event(&self.conn(), event)
    }

    fn publish_event(&self, event: &StoredEvent) -> Result<usize, StoreError> {
        match self.group_write(Write::Publish(event.clone()))? {
            Written::Published(queued) => Ok(queued),
            _ => Err(StoreError::Corrupt(
                "a publish came back as another write".into(),
            )),
        }
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

    fn claim_due(&self, request: ClaimRequest) -> Result<Claimed, StoreError> {
        match self.group_write(Write::Claim(request))? {
            Written::Claimed(claimed) => Ok(claimed),
            _ => Err(StoreError::Corrupt(
                "a claim came back as another write".into(),
            )),
        }
    }

    fn finish_and_take_next(
        &self,
        r: &AttemptResult,
        next: Option<NextLease>,
    ) -> Result<(Finished, Option<Claim>), StoreError> {
        match self.group_write(Write::Finish(Box::new(r.clone()), next))? {
            Written::Finished(finished, claim) => Ok((finished, claim.map(|c| *c))),
            _ => Err(StoreError::Corrupt(
                "a finish came back as another write".into(),
            )),
        }
    }

    fn prefers_next_lease(&self) -> bool {
        false
    }

    fn list_events(
        &self,
        seller: &SellerId,
        page: &EventPage,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::list_events(&self.conn(), seller, page)
    }

    fn purge_settled(&self, before: u64, batch: u32) -> Result<u32, StoreError> {
        events::purge_settled(&mut self.conn(), before, batch)
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
        let leased = next_lease_end(&conn)?;
        Ok(match (unleased.map(unsigned), leased) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn queue_depth(&self) -> Result<u64, StoreError> {
        // Kept by triggers as deliveries change (migration 0007): one row, not a count.
        let n: i64 =
            self.conn()
                .query_row("SELECT pending FROM queue_depth WHERE id = 1", [], |row| {
                    row.get(0)
                })?;
        Ok(unsigned(n))
    }
}
