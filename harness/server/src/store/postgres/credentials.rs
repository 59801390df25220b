//! API keys on PostgreSQL ([`CredentialStore`]), kept as SHA-256 hashes only, and the
//! revoked seller tokens.

use super::{secs, PostgresStore};
use crate::store::{CredentialStore, SellerId, StoreError};

impl CredentialStore for PostgresStore {
    fn insert_api_key(
        &self,
        key_hash: &[u8; 32],
        prefix: &str,
        seller: &SellerId,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO api_keys (key_hash, seller_id, prefix, created_at) VALUES ($1, $2, $3, $4)",
            &[&&key_hash[..], &seller.0, &prefix, &secs(now)],
        )?;
        Ok(())
    }

    fn seller_for_api_key(&self, key_hash: &[u8; 32]) -> Result<Option<SellerId>, StoreError> {
        // An index search on the hash, not a comparison of the key (as on SQLite).
        self.conn()?
            .query_opt(
                "SELECT seller_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                &[&&key_hash[..]],
            )?
            .map(|row| Ok(SellerId(row.try_get(0)?)))
            .transpose()
    }

    fn revoke_token(&self, jti: &str, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let (expires_at, now) = (secs(expires_at), secs(now));
        self.transaction(|tx| {
            tx.execute("DELETE FROM revoked_tokens WHERE expires_at <= $1", &[&now])?;
            // `xmax = 0` only for a row this statement inserted (not one it updated).
            let row = tx.query_one(
                "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3)
                 ON CONFLICT (jti) DO UPDATE
                 SET expires_at = GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at)
                 RETURNING (xmax = 0)",
                &[&jti, &expires_at, &now],
            )?;
            Ok(row.try_get::<_, bool>(0)?)
        })
    }

    fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()?
            .query_opt("SELECT 1 FROM revoked_tokens WHERE jti = $1", &[&jti])?
            .is_some())
    }
}
