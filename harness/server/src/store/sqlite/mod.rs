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

#[cfg(test)]
mod tests {
    use menon_webhooks::EventType;

    use super::*;
    use crate::ids::Secret;
    use crate::store::*;

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
