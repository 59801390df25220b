//! API keys on SQLite ([`CredentialStore`]), kept as SHA-256 hashes only, and the
//! revoked seller tokens.

use rusqlite::{params, OptionalExtension};

use super::{secs, SqliteStore};
use crate::store::{CredentialStore, SellerId, StoreError};

impl CredentialStore for SqliteStore {
    fn insert_api_key(
        &self,
        key_hash: &[u8; 32],
        prefix: &str,
        seller: &SellerId,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO api_keys (key_hash, seller_id, prefix, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![&key_hash[..], seller.0, prefix, secs(now)],
        )?;
        Ok(())
    }

    fn seller_for_api_key(&self, key_hash: &[u8; 32]) -> Result<Option<SellerId>, StoreError> {
        // The lookup is an index search on the hash, not a comparison of the key: timing
        // can reveal at most something about a SHA-256 output, which tells nothing of keys.
        let seller = self
            .conn()
            .query_row(
                "SELECT seller_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
                params![&key_hash[..]],
                |row| row.get::<_, String>(0),
            )
            .optional()?;
        Ok(seller.map(SellerId))
    }

    fn revoke_token(&self, jti: &str, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
            params![secs(now)],
        )?;
        let known = tx
            .query_row(
                "SELECT 1 FROM revoked_tokens WHERE jti = ?1",
                params![jti],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        tx.execute(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
            params![jti, secs(expires_at), secs(now)],
        )?;
        tx.commit()?;
        Ok(!known)
    }

    fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT 1 FROM revoked_tokens WHERE jti = ?1",
                params![jti],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }
}
