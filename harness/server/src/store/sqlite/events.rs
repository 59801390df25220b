//! Events seen as a history on SQLite: the seller's listing and retention (parts of
//! [`QueueStore`](crate::store::QueueStore), whose impl in `queue.rs` calls these).

use rusqlite::{params, Connection, Row};

use super::{secs, unsigned};
use crate::store::{EventPage, SellerId, StoreError, StoredEvent};

/// An event from the first six columns of `row`: id, seller, type, time, body, test.
pub(super) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: row.get(0)?,
        seller_id: SellerId(row.get(1)?),
        event_type: row.get(2)?,
        created_at: unsigned(row.get(3)?),
        body: row.get(4)?,
        is_test: row.get(5)?,
    })
}

/// See [`QueueStore::list_events`](crate::store::QueueStore::list_events).
pub(super) fn list_events(
    conn: &Connection,
    seller: &SellerId,
    page: &EventPage,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, seller_id, type, created_at, body, is_test FROM events
         WHERE seller_id = ?1
           AND (?2 IS NULL OR (created_at, rowid) < (SELECT created_at, rowid FROM events
                                                     WHERE id = ?2 AND seller_id = ?1))
         ORDER BY created_at DESC, rowid DESC
         LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![seller.0, page.before, page.limit], event_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// See [`QueueStore::purge_settled`](crate::store::QueueStore::purge_settled). The
/// deliveries go with their events (`ON DELETE CASCADE`); the logs are deleted by event.
pub(super) fn purge_settled(
    conn: &mut Connection,
    before: u64,
    batch: u32,
) -> Result<u32, StoreError> {
    let tx = conn.transaction()?;
    let doomed: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id FROM events e
             WHERE created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.event_id = e.id AND d.status = 'pending')
             ORDER BY created_at
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![secs(before), batch], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    {
        let mut logs = tx.prepare_cached("DELETE FROM delivery_attempts WHERE event_id = ?1")?;
        let mut events = tx.prepare_cached("DELETE FROM events WHERE id = ?1")?;
        for id in &doomed {
            logs.execute(params![id])?;
            events.execute(params![id])?;
        }
    }
    tx.commit()?;
    Ok(u32::try_from(doomed.len()).unwrap_or(u32::MAX))
}
