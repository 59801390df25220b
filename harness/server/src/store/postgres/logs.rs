//! The delivery logs on PostgreSQL ([`LogStore`]): one row per attempt.

use postgres::Row;

use super::events::event_from_row;
use super::webhooks::select_webhook;
use super::{count, secs, unsigned, PostgresStore};
use crate::store::{
    Attempt, AttemptFilter, AttemptStatus, LogStore, SellerId, StoreError, StoredEvent,
};

pub(super) const ATTEMPT_COLUMNS: &str =
    "id, webhook_id, seller_id, event_id, event_type, status, \
     response_code, response_time_ms, delivered_at, error, retry_count, next_retry, created_at";

fn attempt_from_row(row: &Row) -> Result<Attempt, StoreError> {
    let status: String = row.try_get(5)?;
    Ok(Attempt {
        id: row.try_get(0)?,
        webhook_id: row.try_get(1)?,
        seller_id: SellerId(row.try_get(2)?),
        event_id: row.try_get(3)?,
        event_type: row.try_get(4)?,
        status: status.parse()?,
        response_code: row
            .try_get::<_, Option<i64>>(6)?
            .and_then(|c| u16::try_from(c).ok()),
        response_time_ms: row.try_get::<_, Option<i64>>(7)?.map(unsigned),
        delivered_at: row.try_get::<_, Option<i64>>(8)?.map(unsigned),
        error: row.try_get(9)?,
        retry_count: count(row.try_get(10)?),
        next_retry: row.try_get::<_, Option<i64>>(11)?.map(unsigned),
        created_at: unsigned(row.try_get(12)?),
    })
}

impl LogStore for PostgresStore {
    fn record_attempt(&self, a: &Attempt) -> Result<(), StoreError> {
        self.transaction(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}, delivery_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                             (SELECT id FROM deliveries WHERE event_id = $4 AND webhook_id = $2))"
                ),
                &[
                    &a.id,
                    &a.webhook_id,
                    &a.seller_id.0,
                    &a.event_id,
                    &a.event_type,
                    &a.status.as_str(),
                    &a.response_code.map(i64::from),
                    &a.response_time_ms.map(secs),
                    &a.delivered_at.map(secs),
                    &a.error,
                    &i64::from(a.retry_count),
                    &a.next_retry.map(secs),
                    &secs(a.created_at),
                ],
            )?;
            if let (AttemptStatus::Delivered, Some(at)) = (a.status, a.delivered_at) {
                // A manual retry that gets through settles the queued delivery too.
                tx.execute(
                    "UPDATE deliveries SET status = 'delivered', finished_at = $1,
                            leased_until = NULL
                     WHERE event_id = $2 AND webhook_id = $3 AND status <> 'delivered'",
                    &[&secs(at), &a.event_id, &a.webhook_id],
                )?;
                tx.execute(
                    "UPDATE webhooks SET consecutive_failures = 0,
                            last_success_at = GREATEST(last_success_at, $1)
                     WHERE id = $2",
                    &[&secs(at), &a.webhook_id],
                )?;
            }
            Ok(())
        })
    }

    fn list_attempts(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        filter: &AttemptFilter,
    ) -> Result<Option<Vec<Attempt>>, StoreError> {
        let conn = self.conn()?;
        if select_webhook(&conn, seller, webhook_id, false)?.is_none() {
            return Ok(None);
        }
        // Newest first by insertion order; the cursor is the id of the previous page's
        // last row (an unknown cursor yields an empty page).
        let rows = conn.query_planned_per_call(
            &format!(
                "SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts
                 WHERE webhook_id = $1 AND seller_id = $2
                   AND ($3::TEXT IS NULL OR status = $3)
                   AND ($4::TEXT IS NULL OR event_type = $4)
                   AND ($5::TEXT IS NULL OR seq < (SELECT seq FROM delivery_attempts
                                                   WHERE id = $5 AND webhook_id = $1))
                 ORDER BY seq DESC
                 LIMIT $6"
            ),
            &[
                &webhook_id,
                &seller.0,
                &filter.status.map(|s| s.as_str()),
                &filter.event_type,
                &filter.before,
                &i64::from(filter.limit),
            ],
        )?;
        rows.iter()
            .map(attempt_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn attempt_event(
        &self,
        seller: &SellerId,
        webhook_id: &str,
        log_id: &str,
    ) -> Result<Option<(StoredEvent, u32)>, StoreError> {
        self.conn()?
            .query_opt(
                "SELECT e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
                        (SELECT COUNT(*) FROM delivery_attempts c
                         WHERE c.event_id = e.id AND c.webhook_id = a.webhook_id)
                 FROM delivery_attempts a JOIN events e ON e.id = a.event_id
                 WHERE a.id = $1 AND a.webhook_id = $2 AND a.seller_id = $3",
                &[&log_id, &webhook_id, &seller.0],
            )?
            .map(|row| Ok((event_from_row(&row)?, count(row.try_get(6)?))))
            .transpose()
    }
}
