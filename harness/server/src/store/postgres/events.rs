//! Events seen as a history on PostgreSQL: the seller's listing and retention (parts of
//! [`QueueStore`](crate::store::QueueStore), whose impl in `queue.rs` calls these).

use postgres::Row;

use super::{secs, unsigned, Conn};
use crate::store::{EventPage, SellerId, StoreError, StoredEvent};

/// An event from the first six columns of `row`: id, seller, type, time, body, test.
pub(super) fn event_from_row(row: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        id: row.try_get(0)?,
        seller_id: SellerId(row.try_get(1)?),
        event_type: row.try_get(2)?,
        created_at: unsigned(row.try_get(3)?),
        body: row.try_get(4)?,
        is_test: row.try_get(5)?,
    })
}

/// See [`QueueStore::list_events`](crate::store::QueueStore::list_events).
pub(super) fn list_events(
    conn: &Conn,
    seller: &SellerId,
    page: &EventPage,
) -> Result<Vec<StoredEvent>, StoreError> {
    conn.query_planned_per_call(
        "SELECT id, seller_id, type, created_at, body, is_test FROM events
         WHERE seller_id = $1
           AND ($2::TEXT IS NULL OR (created_at, seq) < (
                SELECT created_at, seq FROM events WHERE id = $2 AND seller_id = $1))
         ORDER BY created_at DESC, seq DESC
         LIMIT $3",
        &[&seller.0, &page.before, &i64::from(page.limit)],
    )?
    .iter()
    .map(event_from_row)
    .collect()
}

/// See [`QueueStore::purge_settled`](crate::store::QueueStore::purge_settled), in one
/// statement. Events another instance is purging at the same moment are skipped
/// (`SKIP LOCKED`); the deliveries go with their events (`ON DELETE CASCADE`).
pub(super) fn purge_settled(conn: &Conn, before: u64, batch: u32) -> Result<u32, StoreError> {
    let row = conn.query_one(
        "WITH doomed AS (
             SELECT id FROM events e
             WHERE created_at < $1
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.event_id = e.id AND d.status = 'pending')
             ORDER BY created_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED),
         logs AS (DELETE FROM delivery_attempts a USING doomed WHERE a.event_id = doomed.id),
         gone AS (DELETE FROM events e USING doomed WHERE e.id = doomed.id RETURNING 1)
         SELECT COUNT(*) FROM gone",
        &[&secs(before), &i64::from(batch)],
    )?;
    Ok(u32::try_from(row.try_get::<_, i64>(0)?).unwrap_or(u32::MAX))
}
