//! The embedded default store: one SQLite file in WAL mode, schema migrations compiled
//! into the binary and applied at open (tracked with `PRAGMA user_version`). This file
//! opens and migrates the database and holds the conversions every concern shares; each
//! store trait is implemented in the file named after its concern.
//!
//! One connection behind a `std::sync::Mutex`: SQLite serializes writers anyway, every
//! call is short, and the lock is never held across an `.await` (callers run on tokio's
//! blocking pool), so an async mutex would buy nothing.

mod credentials;
mod events;
mod group;
mod logs;
mod queue;
mod sessions;
mod webhooks;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::model::{secs, unsigned};
use super::StoreError;

/// The migrations, in order; the database's `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_dispatch.sql"),
    include_str!("../../../migrations/0003_dashboard.sql"),
    include_str!("../../../migrations/0004_leased.sql"),
    include_str!("../../../migrations/0005_fenced.sql"),
    include_str!("../../../migrations/0006_fair.sql"),
    include_str!("../../../migrations/0007_depth.sql"),
    include_str!("../../../migrations/0008_pending_per_webhook.sql"),
    include_str!("../../../migrations/0009_revoked_tokens.sql"),
    include_str!("../../../migrations/0010_retention.sql"),
    include_str!("../../../migrations/0011_scheme.sql"),
];

/// When a commit reaches the disk (SQLite's `PRAGMA synchronous`, in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// Every commit syncs the WAL: durable across power loss. The default.
    Full,
    /// Commits are synced at checkpoints only: durable across a process crash, but the
    /// last commits before a power loss may be lost. For comparison (`bench`) only.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// A [`Store`](crate::store::Store) on a SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    group: group::GroupCommit,
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

/// Creates the database file at `path` with mode 0600 when it does not exist, and takes
/// group and other access away when it does.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let io = |e: std::io::Error| StoreError::Database(format!("{}: {e}", path.display()));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(io)?;
        }
    }
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL with
    /// `synchronous = FULL` and brings its schema up to date. The file is made readable
    /// and writable by its owner only (0600; SQLite gives its WAL and shared-memory
    /// files the database's mode).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// [`open`](Self::open), with the given durability (`bench --synchronous` compares them).
    pub fn open_with(path: &Path, synchronous: Synchronous) -> Result<Self, StoreError> {
        owner_only(path)?;
        let conn = Connection::open(path)?;
        Self::prepare(conn, synchronous)
    }

    /// An in-memory database, for unit tests.
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?, Synchronous::Full)
    }

    fn prepare(mut conn: Connection, synchronous: Synchronous) -> Result<Self, StoreError> {
        // WAL: readers never block the writer. FULL syncs the WAL at every commit, so a
        // committed publish survives power loss, not only a crash; group commit
        // (`group.rs`) shares that sync between the writes that arrive together.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Sorts and groupings that no index serves stay in memory, never in temp files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Room for every statement the hot paths (claim, publish, settle) prepare, so
        // none is parsed again per call.
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            group: group::GroupCommit::default(),
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
    use crate::store::{NewWebhook, QueueStore, SellerId, WebhookStore};
    use menon_harness_common::ids::Secret;

    #[test]
    fn migrations_are_idempotent_and_the_journal_is_wal_synced_in_full() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
        let path = dir.path().join("menon.db");
        let seller = SellerId("sel_a".into());
        SqliteStore::open(&path)?.create_webhook(NewWebhook {
            id: "wh_a".into(),
            seller_id: seller.clone(),
            url: "https://example.com/hook".into(),
            events: vec![EventType::ListingCreated],
            secret: Secret::new("whsec_1".into()),
            scheme: menon_harness_common::delivery::SigningScheme::Menon,
            public_key: None,
            now: 1_000,
            seller_limit: u32::MAX,
        })?;
        let reopened = SqliteStore::open(&path)?;
        let page = crate::store::WebhookPage {
            limit: 10,
            after: None,
        };
        assert_eq!(reopened.list_webhooks(&seller, &page)?.len(), 1);
        let conn = reopened.conn();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        assert_eq!(mode, "wal");
        // 2 is FULL: every commit syncs the WAL (a 202 survives power loss).
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
        assert_eq!(sync, 2);
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

    /// Publishes from many threads at once share transactions (group commit): each
    /// publisher gets its own result once committed, and a write that fails (a duplicate
    /// event id) fails alone, rolled back to its savepoint, without its group.
    #[test]
    fn concurrent_writes_commit_in_groups_and_fail_alone() -> Result<(), StoreError> {
        use crate::store::StoredEvent;
        const THREADS: usize = 8;
        const EACH: usize = 40;
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("menon.db"))?);
        let seller = SellerId("sel_g".into());
        store.create_webhook(NewWebhook {
            id: "wh_g".into(),
            seller_id: seller.clone(),
            url: "https://example.com/hook".into(),
            events: vec![EventType::ListingCreated],
            secret: Secret::new("whsec_g".into()),
            scheme: menon_harness_common::delivery::SigningScheme::Menon,
            public_key: None,
            now: 1_000,
            seller_limit: u32::MAX,
        })?;
        let event = move |id: String| StoredEvent {
            id,
            seller_id: SellerId("sel_g".into()),
            event_type: "listing.created".into(),
            created_at: 1_000,
            body: b"{}".to_vec(),
            is_test: false,
        };
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..EACH)
                        .map(|n| {
                            // Every fifth id is published by every thread: all but one fail.
                            let id = if n % 5 == 0 {
                                format!("evt_shared{n}")
                            } else {
                                format!("evt_{t}_{n}")
                            };
                            store.publish_event(&event(id))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut queued = 0;
        let mut refused = 0;
        for thread in threads {
            for result in thread
                .join()
                .map_err(|_| StoreError::Database("panicked".into()))?
            {
                match result {
                    Ok(n) => queued += n,
                    Err(StoreError::Database(e)) if e.contains("UNIQUE") => refused += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        let shared = EACH / 5;
        assert_eq!(refused, shared * (THREADS - 1));
        assert_eq!(queued, THREADS * EACH - refused);
        assert_eq!(store.queue_depth()?, u64::try_from(queued).unwrap_or(0));
        let groups = store.group.groups();
        let writes = u64::try_from(THREADS * EACH).unwrap_or(0);
        println!("{writes} publishes from {THREADS} threads in {groups} transactions");
        assert!(groups < writes, "no write shared a transaction");
        Ok(())
    }
}
