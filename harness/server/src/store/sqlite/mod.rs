//! The embedded default store: one SQLite file in WAL mode, schema migrations compiled
//! into the binary and applied at open (tracked with `PRAGMA user_version`). This file
//! opens and migrates the database and holds the conversions every concern shares; each
//! store trait is implemented in the file named after its concern.
//!
//! One connection behind a `std::sync::Mutex`: SQLite serializes writers anyway, every
//! call is short, and the lock is never held across an `.await` (callers run on tokio's
//! blocking pool), so an async mutex would buy nothing.

mod credentials;
mod logs;
mod queue;
mod sessions;
mod webhooks;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::StoreError;

/// The migrations, in order; the database's `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_dispatch.sql"),
    include_str!("../../../migrations/0003_dashboard.sql"),
    include_str!("../../../migrations/0004_leased.sql"),
    include_str!("../../../migrations/0005_fenced.sql"),
];

/// A [`Store`](crate::store::Store) on a SQLite file.
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

// The store's behaviour is tested once for every backend, by the conformance suite
// (`store::conformance`, run on a SQLite file by `tests/store.rs`). What stays here is
// SQLite's own: the file format, WAL and the migrations.
#[cfg(test)]
mod tests {
    use menon_webhooks::EventType;

    use super::*;
    use crate::store::{NewWebhook, SellerId, WebhookStore};
    use menon_harness_common::ids::Secret;

    #[test]
    fn migrations_are_idempotent_and_the_journal_is_wal() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
        let path = dir.path().join("menon.db");
        let seller = SellerId("sel_a".into());
        SqliteStore::open(&path)?.create_webhook(NewWebhook {
            id: "wh_a".into(),
            seller_id: seller.clone(),
            url: "https://example.com/hook".into(),
            events: vec![EventType::ListingCreated],
            secret: Secret::new("whsec_1".into()),
            now: 1_000,
        })?;
        let reopened = SqliteStore::open(&path)?;
        assert_eq!(reopened.list_webhooks(&seller)?.len(), 1);
        let conn = reopened.conn();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        assert_eq!(mode, "wal");
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(usize::try_from(version).ok(), Some(MIGRATIONS.len()));
        Ok(())
    }

    #[test]
    fn a_newer_schema_is_refused() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
        let path = dir.path().join("menon.db");
        drop(SqliteStore::open(&path)?);
        Connection::open(&path)?.pragma_update(None, "user_version", 99)?;
        let refused = SqliteStore::open(&path).map(|_| ());
        assert!(
            matches!(&refused, Err(StoreError::Corrupt(e)) if e.contains("newer than this binary")),
            "{refused:?}"
        );
        Ok(())
    }
}
