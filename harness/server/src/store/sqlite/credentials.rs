//! API keys on SQLite ([`CredentialStore`]), kept as SHA-256 hashes only.

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
}
