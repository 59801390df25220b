//! The store conformance suite (`menon_harness_server::store::conformance`) on SQLite:
//! each case on a fresh database file in its own temporary directory, as `serve` uses it.

use menon_harness_server::store::conformance::Case;
use menon_harness_server::store::{SqliteStore, StoreError};

/// Runs `case` on a new SQLite file, removed afterwards.
fn sqlite(case: Case) -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("menon.db"))?;
    case(&store)
}

mod sqlite {
    menon_harness_server::store_conformance!(super::sqlite);
}
