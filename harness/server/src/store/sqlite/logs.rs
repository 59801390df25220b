//! The delivery logs on SQLite ([`LogStore`]): one row per attempt.

use rusqlite::{params, OptionalExtension, Row};

use super::events::event_from_row;
use super::webhooks::select_webhook;
use super::{secs, unsigned, SqliteStore};
use crate::store::{
    Attempt, AttemptFilter, AttemptStatus, LogStore, SellerId, StoreError, StoredEvent,
};

pub(super) const ATTEMPT_COLUMNS: &str =
    "id, webhook_id, seller_id, event_id, event_type, status, \
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
                "UPDATE webhooks SET consecutive_failures = 0,
                        last_success_at = MAX(COALESCE(last_success_at, ?1), ?1)
                 WHERE id = ?2",
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
                    let attempts: i64 = row.get(6)?;
                    Ok((
                        event_from_row(row)?,
                        u32::try_from(attempts).unwrap_or(u32::MAX),
                    ))
                },
            )
            .optional()?;
        Ok(found)
    }
}
