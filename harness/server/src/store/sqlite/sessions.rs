//! Dashboard sessions and one-time sign-in links on SQLite ([`SessionStore`]).

use rusqlite::{params, OptionalExtension};

use super::{secs, unsigned, SqliteStore};
use crate::store::{DashboardSession, SellerId, SessionStore, StoreError};

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
            "INSERT INTO dashboard_sessions
                 (id_hash, seller_id, csrf_token, created_at, expires_at, token_jti)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                &session.id_hash[..],
                session.seller_id.0,
                session.csrf_token,
                now,
                secs(session.expires_at),
                session.token_jti,
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
        // As for API keys: an index search on a hash, not a comparison of the secret. A
        // session whose token was revoked is not found.
        let found = self
            .conn()
            .query_row(
                "SELECT s.seller_id, s.csrf_token, s.created_at, s.expires_at, s.token_jti
                 FROM dashboard_sessions s
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2
                   AND NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = s.token_jti)",
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
                        token_jti: row.get(4)?,
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
