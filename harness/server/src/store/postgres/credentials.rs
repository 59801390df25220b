//! API keys on PostgreSQL ([`CredentialStore`]), kept as SHA-256 hashes only.

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
}
