//! Dashboard sessions and one-time sign-in links on PostgreSQL ([`SessionStore`]): in the
//! database, so a browser signed in through one instance stays signed in on all.

use super::{secs, unsigned, PostgresStore};
use crate::store::{DashboardSession, SellerId, SessionStore, StoreError};

impl SessionStore for PostgresStore {
    fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError> {
        let now = secs(session.created_at);
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM dashboard_sessions WHERE expires_at <= $1",
                &[&now],
            )?;
            tx.execute(
                "DELETE FROM dashboard_used_links WHERE expires_at <= $1",
                &[&now],
            )?;
            tx.execute(
                "INSERT INTO dashboard_sessions
                     (id_hash, seller_id, csrf_token, created_at, expires_at, token_jti)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&session.id_hash[..],
                    &session.seller_id.0,
                    &session.csrf_token,
                    &now,
                    &secs(session.expires_at),
                    &session.token_jti,
                ],
            )?;
            Ok(())
        })
    }

    fn find_session(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<DashboardSession>, StoreError> {
        self.conn()?
            .query_opt(
                // A session whose token was revoked is not found.
                "SELECT s.seller_id, s.csrf_token, s.created_at, s.expires_at, s.token_jti
                 FROM dashboard_sessions s
                 WHERE s.id_hash = $1 AND s.expires_at > $2
                   AND NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = s.token_jti)",
                &[&&id_hash[..], &secs(now)],
            )?
            .map(|row| {
                Ok(DashboardSession {
                    id_hash: *id_hash,
                    seller_id: SellerId(row.try_get(0)?),
                    csrf_token: row.try_get(1)?,
                    created_at: unsigned(row.try_get(2)?),
                    expires_at: unsigned(row.try_get(3)?),
                    token_jti: row.try_get(4)?,
                })
            })
            .transpose()
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn()?.execute(
            "DELETE FROM dashboard_sessions WHERE id_hash = $1",
            &[&&id_hash[..]],
        )?;
        Ok(())
    }

    fn use_sign_in_link(&self, jti: &str, expires_at: u64) -> Result<bool, StoreError> {
        let inserted = self.conn()?.execute(
            "INSERT INTO dashboard_used_links (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
            &[&jti, &secs(expires_at)],
        )?;
        Ok(inserted == 1)
    }
}
