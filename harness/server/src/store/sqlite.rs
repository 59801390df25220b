//! The embedded default store: one SQLite file in WAL mode, schema migrations compiled
//! into the binary and applied at open (tracked with `PRAGMA user_version`).
//!
//! One connection behind a `std::sync::Mutex`: SQLite serializes writers anyway, every
//! call is short, and the lock is never held across an `.await` (callers run on tokio's
//! blocking pool), so an async mutex would buy nothing.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use menon_webhooks::EventType;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    Attempt, AttemptFilter, AttemptResult, AttemptStatus, Claim, CredentialStore, DashboardSession,
    LogStore, NewWebhook, QueueStore, SellerId, SessionStore, Settle, StoreError, StoredEvent,
    Webhook, WebhookChanges, WebhookStatus, WebhookStore,
};
use crate::ids::Secret;

/// The migrations, in order; the database's `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_dispatch.sql"),
    include_str!("../../migrations/0003_dashboard.sql"),
    include_str!("../../migrations/0004_leased.sql"),
];

const WEBHOOK_COLUMNS: &str =
    "id, seller_id, url, events, status, created_at, updated_at, consecutive_failures";

/// A [`Store`] on a SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Unix seconds (or any count) as SQLite stores them.
fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count or time back as unsigned (negative values cannot be written by us).
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const ATTEMPT_COLUMNS: &str = "id, webhook_id, seller_id, event_id, event_type, status, \
     response_code, response_time_ms, delivered_at, error, retry_count, next_retry, created_at";

fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Attempt, StoreError>> {
    let status: String = row.get(5)?;
    let response_code: Option<i64> = row.get(6)?;
    let response_time_ms: Option<i64> = row.get(7)?;
    let delivered_at: Option<i64> = row.get(8)?;
    let retry_count: i64 = row.get(10)?;
    let next_retry: Option<i64> = row.get(11)?;
    let created_at: i64 = row.get(12)?;
    let attempt = Attempt {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        seller_id: SellerId(row.get(2)?),
        event_id: row.get(3)?,
        event_type: row.get(4)?,
        status: match status.parse() {
            Ok(status) => status,
            Err(e) => return Ok(Err(e)),
        },
        response_code: response_code.and_then(|c| u16::try_from(c).ok()),
        response_time_ms: response_time_ms.map(unsigned),
        delivered_at: delivered_at.map(unsigned),
        error: row.get(9)?,
        retry_count: u32::try_from(retry_count).unwrap_or(u32::MAX),
        next_retry: next_retry.map(unsigned),
        created_at: unsigned(created_at),
    };
    Ok(Ok(attempt))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL and brings
    /// its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::prepare(conn)
    }

    /// An in-memory database, for unit tests.
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut conn: Connection) -> Result<Self, StoreError> {
        // WAL: readers never block the writer; `synchronous = NORMAL` is durable across a
        // process crash (kill -9), which is what the queue needs, at a fraction of FULL's cost.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is safe to keep using.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this binary's {}: \
             use a newer menon-harness",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

fn events_to_json(events: &[EventType]) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

fn events_from_json(text: &str) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("webhook events {text:?}: {e}")))?;
    names
        .iter()
        .map(|n| n.parse().map_err(|e| StoreError::Corrupt(format!("{e}"))))
        .collect()
}

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Webhook, StoreError>> {
    let events: String = row.get(3)?;
    let status: String = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    let updated_at: i64 = row.get(6)?;
    let failures: i64 = row.get(7)?;
    let id: String = row.get(0)?;
    let seller: String = row.get(1)?;
    let url: String = row.get(2)?;
    Ok((|| {
        Ok(Webhook {
            id,
            seller_id: SellerId(seller),
            url,
            events: events_from_json(&events)?,
            status: status.parse()?,
            created_at: unsigned(created_at),
            updated_at: unsigned(updated_at),
            consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
        })
    })())
}

fn select_webhook(
    conn: &Connection,
    seller: &SellerId,
    id: &str,
) -> Result<Option<Webhook>, StoreError> {
    conn.query_row(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1 AND seller_id = ?2"),
        params![id, seller.0],
        webhook_from_row,
    )
    .optional()?
    .transpose()
}

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

impl WebhookStore for SqliteStore {
    fn create_webhook(&self, new: NewWebhook) -> Result<Webhook, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO webhooks (id, seller_id, url, events, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?5)",
            params![
                new.id,
                new.seller_id.0,
                new.url,
                events_to_json(&new.events),
                secs(new.now)
            ],
        )?;
        tx.execute(
            "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES (?1, ?2, ?3)",
            params![new.id, new.secret.expose(), secs(new.now)],
        )?;
        let created = select_webhook(&tx, &new.seller_id, &new.id)?;
        tx.commit()?;
        created.ok_or_else(|| StoreError::Corrupt("the new webhook was not read back".into()))
    }

    fn list_webhooks(&self, seller: &SellerId) -> Result<Vec<Webhook>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE seller_id = ?1 ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map(params![seller.0], webhook_from_row)?;
        rows.map(|row| row?).collect()
    }

    fn get_webhook(&self, seller: &SellerId, id: &str) -> Result<Option<Webhook>, StoreError> {
        select_webhook(&self.conn(), seller, id)
    }

    fn update_webhook(
        &self,
        seller: &SellerId,
        id: &str,
        changes: WebhookChanges,
        now: u64,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(current) = select_webhook(&tx, seller, id)? else {
            return Ok(None);
        };
        let url = changes.url.unwrap_or(current.url);
        let events = changes.events.unwrap_or(current.events);
        let status = changes.status.unwrap_or(current.status);
        tx.execute(
            "UPDATE webhooks SET url = ?1, events = ?2, status = ?3, updated_at = ?4
             WHERE id = ?5 AND seller_id = ?6",
            params![
                url,
                events_to_json(&events),
                status.as_str(),
                secs(now),
                id,
                seller.0
            ],
        )?;
        if current.status == WebhookStatus::Disabled && status == WebhookStatus::Active {
            // PROTOCOL §5: the undelivered events were kept; they go out again, each with a
            // fresh schedule: the pending ones, and those that failed for good when the
            // webhook was disabled.
            tx.execute(
                "UPDATE deliveries SET status = 'pending', failures = 0, first_attempt_at = NULL,
                        next_attempt_at = ?1, leased_until = NULL, finished_at = NULL
                 WHERE webhook_id = ?2
                   AND (status = 'pending'
                        OR (status = 'failed' AND finished_at >= (SELECT disabled_at
                                                              FROM webhooks WHERE id = ?2)))",
                params![secs(now), id],
            )?;
            // PROTOCOL §5: re-enabling resets the failure history.
            tx.execute(
                "UPDATE webhooks SET consecutive_failures = 0, disabled_at = NULL,
                 disabled_reason = NULL WHERE id = ?1",
                params![id],
            )?;
        } else if current.status == WebhookStatus::Active && status == WebhookStatus::Disabled {
            tx.execute(
                "UPDATE webhooks SET disabled_at = ?1, disabled_reason = 'disabled by the seller'
                 WHERE id = ?2",
                params![secs(now), id],
            )?;
        }
        let updated = select_webhook(&tx, seller, id)?;
        tx.commit()?;
        Ok(updated)
    }

    fn delete_webhook(&self, seller: &SellerId, id: &str) -> Result<bool, StoreError> {
        let deleted = self.conn().execute(
            "DELETE FROM webhooks WHERE id = ?1 AND seller_id = ?2",
            params![id, seller.0],
        )?;
        Ok(deleted > 0)
    }

    fn rotate_secret(
        &self,
        seller: &SellerId,
        id: &str,
        secret: Secret,
        now: u64,
        previous_until: u64,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(webhook) = select_webhook(&tx, seller, id)? else {
            return Ok(None);
        };
        tx.execute(
            "DELETE FROM webhook_secrets WHERE webhook_id = ?1 AND expires_at <= ?2",
            params![id, secs(now)],
        )?;
        tx.execute(
            "UPDATE webhook_secrets SET expires_at = MIN(COALESCE(expires_at, ?2), ?2)
             WHERE webhook_id = ?1",
            params![id, secs(previous_until)],
        )?;
        tx.execute(
            "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES (?1, ?2, ?3)",
            params![id, secret.expose(), secs(now)],
        )?;
        tx.execute(
            "UPDATE webhooks SET updated_at = ?1 WHERE id = ?2",
            params![secs(now), id],
        )?;
        tx.commit()?;
        Ok(Some(webhook))
    }

    fn signing_secrets(&self, webhook_id: &str, now: u64) -> Result<Vec<Secret>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT secret FROM webhook_secrets
             WHERE webhook_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
             ORDER BY (expires_at IS NULL) DESC, created_at DESC, rowid DESC",
        )?;
        let rows = stmt.query_map(params![webhook_id, secs(now)], |row| {
            row.get::<_, String>(0).map(Secret::new)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl CredentialStore for SqliteStore {
    fn insert_api_key(
        &self,
        key_hash: &[u8; 32],
        prefix: &str,
        seller: &SellerId,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO api_keys (key_hash, seller_id, prefix, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![&key_hash[..], seller.0, prefix, secs(now)],
        )?;
        Ok(())
    }

    fn seller_for_api_key(&self, key_hash: &[u8; 32]) -> Result<Option<SellerId>, StoreError> {
        // The lookup is an index search on the hash, not a comparison of the key: timing
        // can reveal at most something about a SHA-256 output, which tells nothing of keys.
        let seller = self
            .conn()
            .query_row(
                "SELECT seller_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
                params![&key_hash[..]],
                |row| row.get::<_, String>(0),
            )
            .optional()?;
        Ok(seller.map(SellerId))
    }
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
        interrupted: &str,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut claims = Vec::new();
        {
            let mut due = tx.prepare_cached(
                "SELECT d.id, d.attempts, d.failures, w.id, w.seller_id, w.url,
                        e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
                        COALESCE(d.first_attempt_at, ?1), w.last_success_at
                 FROM deliveries d
                 JOIN webhooks w ON w.id = d.webhook_id
                 JOIN events e ON e.id = d.event_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                   AND (d.leased_until IS NULL OR d.leased_until <= ?1)
                   AND w.status = 'active'
                 ORDER BY d.next_attempt_at, d.id
                 LIMIT ?2",
            )?;
            let limit = i64::try_from(log_ids.len()).unwrap_or(i64::MAX);
            let rows = due.query_map(params![secs(now), limit], |row| {
                let attempts: i64 = row.get(1)?;
                let failures: i64 = row.get(2)?;
                let created_at: i64 = row.get(9)?;
                let first_attempt_at: i64 = row.get(12)?;
                let last_success_at: Option<i64> = row.get(13)?;
                Ok(Claim {
                    delivery_id: row.get(0)?,
                    log_id: String::new(),
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
                    claimed_at: now,
                    first_attempt_at: unsigned(first_attempt_at),
                    last_success_at: last_success_at.map(unsigned),
                })
            })?;
            for (row, log_id) in rows.zip(log_ids) {
                let mut claim = row?;
                claim.log_id = log_id;
                claims.push(claim);
            }
        }
        for claim in &claims {
            tx.execute(
                "UPDATE delivery_attempts SET status = 'failed', error = ?1
                 WHERE delivery_id = ?2 AND status = 'pending'",
                params![interrupted, claim.delivery_id],
            )?;
            tx.execute(
                "UPDATE deliveries SET leased_until = ?1, attempts = attempts + 1,
                        first_attempt_at = COALESCE(first_attempt_at, ?2)
                 WHERE id = ?3",
                params![secs(lease_until), secs(now), claim.delivery_id],
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

    fn finish_attempt(&self, r: &AttemptResult) -> Result<bool, StoreError> {
        let a = &r.attempt;
        let at = secs(r.finished_at);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE delivery_attempts SET status = ?1, response_code = ?2, response_time_ms = ?3,
                    delivered_at = ?4, error = ?5, next_retry = ?6
             WHERE id = ?7",
            params![
                a.status.as_str(),
                a.response_code,
                a.response_time_ms.map(secs),
                a.delivered_at.map(secs),
                a.error,
                a.next_retry.map(secs),
                a.id
            ],
        )?;
        match r.settle {
            Settle::Delivered => {
                tx.execute(
                    "UPDATE deliveries SET status = 'delivered', finished_at = ?1,
                            leased_until = NULL WHERE id = ?2",
                    params![at, r.delivery_id],
                )?;
                tx.execute(
                    "UPDATE webhooks SET consecutive_failures = 0, last_success_at = ?1
                     WHERE id = ?2",
                    params![at, a.webhook_id],
                )?;
            }
            Settle::Retry(next) => {
                tx.execute(
                    "UPDATE deliveries SET failures = failures + 1, next_attempt_at = ?1,
                            leased_until = NULL WHERE id = ?2",
                    params![secs(next), r.delivery_id],
                )?;
                count_failure(&tx, &a.webhook_id)?;
            }
            Settle::Fail => {
                tx.execute(
                    "UPDATE deliveries SET status = 'failed', failures = failures + 1,
                            finished_at = ?1, leased_until = NULL WHERE id = ?2",
                    params![at, r.delivery_id],
                )?;
                count_failure(&tx, &a.webhook_id)?;
            }
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
        tx.commit()?;
        Ok(disabled)
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

impl LogStore for SqliteStore {
    fn record_attempt(&self, a: &Attempt) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}, delivery_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                         (SELECT id FROM deliveries WHERE event_id = ?4 AND webhook_id = ?2))"
            ),
            params![
                a.id,
                a.webhook_id,
                a.seller_id.0,
                a.event_id,
                a.event_type,
                a.status.as_str(),
                a.response_code,
                a.response_time_ms.map(secs),
                a.delivered_at.map(secs),
                a.error,
                a.retry_count,
                a.next_retry.map(secs),
                secs(a.created_at)
            ],
        )?;
        if let (AttemptStatus::Delivered, Some(at)) = (a.status, a.delivered_at) {
            // A manual retry that gets through settles the queued delivery too.
            tx.execute(
                "UPDATE deliveries SET status = 'delivered', finished_at = ?1, leased_until = NULL
                 WHERE event_id = ?2 AND webhook_id = ?3 AND status <> 'delivered'",
                params![secs(at), a.event_id, a.webhook_id],
            )?;
            tx.execute(
                "UPDATE webhooks SET consecutive_failures = 0, last_success_at = ?1 WHERE id = ?2",
                params![secs(at), a.webhook_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn list_attempts(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        filter: &AttemptFilter,
    ) -> Result<Option<Vec<Attempt>>, StoreError> {
        let conn = self.conn();
        if select_webhook(&conn, seller, webhook_id)?.is_none() {
            return Ok(None);
        }
        // Newest first by insertion order; the cursor is the id of the previous page's
        // last row (an unknown cursor yields an empty page).
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts
             WHERE webhook_id = ?1 AND seller_id = ?2
               AND (?3 IS NULL OR status = ?3)
               AND (?4 IS NULL OR event_type = ?4)
               AND (?5 IS NULL OR rowid < (SELECT rowid FROM delivery_attempts
                                           WHERE id = ?5 AND webhook_id = ?1))
             ORDER BY rowid DESC
             LIMIT ?6"
        ))?;
        let rows = stmt.query_map(
            params![
                webhook_id,
                seller.0,
                filter.status.map(|s| s.as_str()),
                filter.event_type,
                filter.before,
                filter.limit
            ],
            attempt_from_row,
        )?;
        rows.map(|row| row?)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn attempt_event(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        log_id: &str,
    ) -> Result<Option<(StoredEvent, u32)>, StoreError> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
                        (SELECT COUNT(*) FROM delivery_attempts c
                         WHERE c.event_id = e.id AND c.webhook_id = a.webhook_id)
                 FROM delivery_attempts a JOIN events e ON e.id = a.event_id
                 WHERE a.id = ?1 AND a.webhook_id = ?2 AND a.seller_id = ?3",
                params![log_id, webhook_id, seller.0],
                |row| {
                    let created_at: i64 = row.get(3)?;
                    let attempts: i64 = row.get(6)?;
                    Ok((
                        StoredEvent {
                            id: row.get(0)?,
                            seller_id: SellerId(row.get(1)?),
                            event_type: row.get(2)?,
                            created_at: unsigned(created_at),
                            body: row.get(4)?,
                            is_test: row.get(5)?,
                        },
                        u32::try_from(attempts).unwrap_or(u32::MAX),
                    ))
                },
            )
            .optional()?;
        Ok(found)
    }
}

impl SessionStore for SqliteStore {
    fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = secs(session.created_at);
        tx.execute(
            "DELETE FROM dashboard_sessions WHERE expires_at <= ?1",
            params![now],
        )?;
        tx.execute(
            "DELETE FROM dashboard_used_links WHERE expires_at <= ?1",
            params![now],
        )?;
        tx.execute(
            "INSERT INTO dashboard_sessions (id_hash, seller_id, csrf_token, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &session.id_hash[..],
                session.seller_id.0,
                session.csrf_token,
                now,
                secs(session.expires_at)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn find_session(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<DashboardSession>, StoreError> {
        // As for API keys: an index search on a hash, not a comparison of the secret.
        let found = self
            .conn()
            .query_row(
                "SELECT seller_id, csrf_token, created_at, expires_at FROM dashboard_sessions
                 WHERE id_hash = ?1 AND expires_at > ?2",
                params![&id_hash[..], secs(now)],
                |row| {
                    let created_at: i64 = row.get(2)?;
                    let expires_at: i64 = row.get(3)?;
                    Ok(DashboardSession {
                        id_hash: *id_hash,
                        seller_id: SellerId(row.get(0)?),
                        csrf_token: row.get(1)?,
                        created_at: unsigned(created_at),
                        expires_at: unsigned(expires_at),
                    })
                },
            )
            .optional()?;
        Ok(found)
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM dashboard_sessions WHERE id_hash = ?1",
            params![&id_hash[..]],
        )?;
        Ok(())
    }

    fn use_sign_in_link(&self, jti: &str, expires_at: u64) -> Result<bool, StoreError> {
        let inserted = self.conn().execute(
            "INSERT OR IGNORE INTO dashboard_used_links (jti, expires_at) VALUES (?1, ?2)",
            params![jti, secs(expires_at)],
        )?;
        Ok(inserted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seller(name: &str) -> SellerId {
        SellerId(name.into())
    }

    fn new_webhook(id: &str, owner: &str, secret: &str) -> NewWebhook {
        NewWebhook {
            id: id.into(),
            seller_id: seller(owner),
            url: "https://example.com/hook".into(),
            events: vec![EventType::ListingCreated, EventType::MessageReceived],
            secret: Secret::new(secret.into()),
            now: 1_000,
        }
    }

    #[test]
    fn webhooks_are_scoped_to_their_seller() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        let created = store.create_webhook(new_webhook("wh_a", "sel_a", "whsec_1"))?;
        assert_eq!(
            created.events,
            [EventType::ListingCreated, EventType::MessageReceived]
        );
        assert_eq!(store.list_webhooks(&seller("sel_a"))?.len(), 1);
        assert!(store.list_webhooks(&seller("sel_b"))?.is_empty());
        assert!(store.get_webhook(&seller("sel_b"), "wh_a")?.is_none());
        let changes = WebhookChanges {
            status: Some(WebhookStatus::Disabled),
            ..WebhookChanges::default()
        };
        assert!(store
            .update_webhook(&seller("sel_b"), "wh_a", changes, 2_000)?
            .is_none());
        assert!(!store.delete_webhook(&seller("sel_b"), "wh_a")?);
        assert!(store.delete_webhook(&seller("sel_a"), "wh_a")?);
        assert!(store.get_webhook(&seller("sel_a"), "wh_a")?.is_none());
        Ok(())
    }

    #[test]
    fn rotation_keeps_the_old_secret_until_it_expires() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        store.create_webhook(new_webhook("wh_a", "sel_a", "whsec_old"))?;
        store.rotate_secret(
            &seller("sel_a"),
            "wh_a",
            Secret::new("whsec_new".into()),
            2_000,
            2_000 + 86_400,
        )?;
        let live = |now| -> Result<Vec<String>, StoreError> {
            Ok(store
                .signing_secrets("wh_a", now)?
                .iter()
                .map(|s| s.expose().to_owned())
                .collect())
        };
        assert_eq!(live(2_001)?, ["whsec_new", "whsec_old"]);
        assert_eq!(live(2_000 + 86_400)?, ["whsec_new"]);
        Ok(())
    }

    #[test]
    fn reenabling_resets_failures() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        store.create_webhook(new_webhook("wh_a", "sel_a", "whsec_1"))?;
        store.conn().execute(
            "UPDATE webhooks SET status = 'disabled', consecutive_failures = 6",
            [],
        )?;
        let changes = WebhookChanges {
            status: Some(WebhookStatus::Active),
            ..WebhookChanges::default()
        };
        let updated = store.update_webhook(&seller("sel_a"), "wh_a", changes, 3_000)?;
        let updated = updated.ok_or_else(|| StoreError::Corrupt("missing".into()))?;
        assert_eq!(updated.status, WebhookStatus::Active);
        assert_eq!(updated.consecutive_failures, 0);
        Ok(())
    }

    #[test]
    fn api_keys_are_found_by_hash() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        store.insert_api_key(&[7; 32], "mk_abc", &seller("sel_a"), 1)?;
        assert_eq!(store.seller_for_api_key(&[7; 32])?, Some(seller("sel_a")));
        assert_eq!(store.seller_for_api_key(&[8; 32])?, None);
        Ok(())
    }

    #[test]
    fn sessions_expire_and_links_work_once() -> Result<(), StoreError> {
        let store = SqliteStore::in_memory()?;
        let session = DashboardSession {
            id_hash: [7; 32],
            seller_id: seller("sel_a"),
            csrf_token: "csrf".into(),
            created_at: 100,
            expires_at: 200,
        };
        store.create_session(&session)?;
        assert_eq!(store.find_session(&[7; 32], 199)?, Some(session.clone()));
        assert_eq!(store.find_session(&[7; 32], 200)?, None);
        assert_eq!(store.find_session(&[8; 32], 150)?, None);
        store.delete_session(&[7; 32])?;
        assert_eq!(store.find_session(&[7; 32], 150)?, None);
        assert!(store.use_sign_in_link("jti_1", 300)?);
        assert!(!store.use_sign_in_link("jti_1", 300)?);
        // Creating a session later sweeps what expired.
        store.create_session(&DashboardSession {
            created_at: 400,
            expires_at: 500,
            ..session
        })?;
        assert!(store.use_sign_in_link("jti_1", 600)?);
        Ok(())
    }

    #[test]
    fn migrations_are_idempotent() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
        let path = dir.path().join("menon.db");
        SqliteStore::open(&path)?.create_webhook(new_webhook("wh_a", "sel_a", "whsec_1"))?;
        let reopened = SqliteStore::open(&path)?;
        assert_eq!(reopened.list_webhooks(&seller("sel_a"))?.len(), 1);
        let mode: String = reopened
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        assert_eq!(mode, "wal");
        Ok(())
    }

    #[test]
    fn next_due_reads_unleased_and_leased_deliveries_of_active_webhooks() -> Result<(), StoreError>
    {
        let store = SqliteStore::in_memory()?;
        assert_eq!(store.next_due()?, None);
        store.create_webhook(new_webhook("wh_a", "sel_a", "whsec_1"))?;
        store.create_webhook(new_webhook("wh_off", "sel_a", "whsec_2"))?;
        let event = |id: &str| StoredEvent {
            id: id.into(),
            seller_id: seller("sel_a"),
            event_type: "listing.created".into(),
            created_at: 1_000,
            body: b"{}".to_vec(),
            is_test: false,
        };
        store.queue_events_for(&[event("evt_late")], "wh_a", 5_000)?;
        store.queue_events_for(&[event("evt_early")], "wh_a", 3_000)?;
        assert_eq!(store.next_due()?, Some(3_000));
        // A disabled webhook's deliveries are kept but never due.
        store.queue_events_for(&[event("evt_off")], "wh_off", 100)?;
        let off = WebhookChanges {
            status: Some(WebhookStatus::Disabled),
            ..WebhookChanges::default()
        };
        store.update_webhook(&seller("sel_a"), "wh_off", off, 1_000)?;
        assert_eq!(store.next_due()?, Some(3_000));
        // Claimed at 3 000 with a lease to 3 100: due again when the lease runs out.
        let claims = store.claim_due(3_000, 3_100, vec!["log_1".into()], "interrupted")?;
        assert_eq!(claims.len(), 1);
        assert_eq!(store.next_due()?, Some(3_100));
        // At 5 000 the lapsed lease is claimed again (oldest due first), now to 9 000:
        // the unleased late one, due at 5 000, comes first.
        let claims = store.claim_due(5_000, 9_000, vec!["log_2".into()], "interrupted")?;
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].event.id, "evt_early");
        assert_eq!(store.next_due()?, Some(5_000));
        Ok(())
    }

    #[test]
    fn attempts_page_newest_first_and_stay_with_their_seller() -> Result<(), StoreError> {
        use super::super::AttemptStatus;
        let store = SqliteStore::in_memory()?;
        store.create_webhook(new_webhook("wh_a", "sel_a", "whsec_1"))?;
        store.insert_event(&StoredEvent {
            id: "evt_1".into(),
            seller_id: seller("sel_a"),
            event_type: "listing.created".into(),
            created_at: 1_000,
            body: b"{}".to_vec(),
            is_test: true,
        })?;
        for (n, status) in [
            AttemptStatus::Failed,
            AttemptStatus::Delivered,
            AttemptStatus::Failed,
        ]
        .into_iter()
        .enumerate()
        {
            store.record_attempt(&Attempt {
                id: format!("log_{n}"),
                webhook_id: "wh_a".into(),
                seller_id: seller("sel_a"),
                event_id: "evt_1".into(),
                event_type: "listing.created".into(),
                status,
                response_code: Some(500),
                response_time_ms: Some(3),
                delivered_at: None,
                error: None,
                retry_count: u32::try_from(n).unwrap_or(0),
                next_retry: None,
                created_at: 1_000,
            })?;
        }
        let ids = |filter: AttemptFilter| -> Result<Vec<String>, StoreError> {
            Ok(store
                .list_attempts(&seller("sel_a"), "wh_a", &filter)?
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.id)
                .collect())
        };
        let all = AttemptFilter {
            limit: 10,
            ..AttemptFilter::default()
        };
        assert_eq!(ids(all.clone())?, ["log_2", "log_1", "log_0"]);
        let page = AttemptFilter {
            limit: 2,
            ..AttemptFilter::default()
        };
        assert_eq!(ids(page)?, ["log_2", "log_1"]);
        let next = AttemptFilter {
            limit: 2,
            before: Some("log_1".into()),
            ..AttemptFilter::default()
        };
        assert_eq!(ids(next)?, ["log_0"]);
        let failed = AttemptFilter {
            status: Some(AttemptStatus::Failed),
            ..all.clone()
        };
        assert_eq!(ids(failed)?, ["log_2", "log_0"]);
        assert!(store
            .list_attempts(&seller("sel_b"), "wh_a", &all)?
            .is_none());
        Ok(())
    }
}
