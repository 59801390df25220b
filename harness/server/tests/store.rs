//! The store conformance suite (`menon_harness_server::store::conformance`) on both
//! backends: each case on a fresh SQLite file in its own temporary directory, as `serve`
//! uses it, and on a fresh schema of the test PostgreSQL (`store::testdb`: a missing
//! database fails these tests with what to do).

use menon_harness_server::store::conformance::Case;
use menon_harness_server::store::testdb::TestDatabase;
use menon_harness_server::store::{PostgresStore, SqliteStore, StoreError};

/// Runs `case` on a new SQLite file, removed afterwards.
fn sqlite(case: Case) -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Database(e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("menon.db"))?;
    case(&store)
}

/// Runs `case` on a new schema of the test PostgreSQL, dropped afterwards.
fn postgres(case: Case) -> Result<(), StoreError> {
    let database = TestDatabase::create().map_err(StoreError::Database)?;
    let store = PostgresStore::connect(database.url())?;
    let result = case(&store);
    drop(store);
    result
}

mod sqlite {
    menon_harness_server::store_conformance!(super::sqlite);
}

mod postgres {
    menon_harness_server::store_conformance!(super::postgres);
}

/// Runs `case` on three handles (instances) of a new schema of the test PostgreSQL.
fn postgres_shared(
    case: menon_harness_server::store::conformance::shared::SharedCase,
) -> Result<(), StoreError> {
    let database = TestDatabase::create().map_err(StoreError::Database)?;
    let instances = [
        PostgresStore::connect(database.url())?,
        PostgresStore::connect(database.url())?,
        PostgresStore::connect(database.url())?,
    ];
    let handles: Vec<&dyn menon_harness_server::store::Store> =
        instances.iter().map(|s| s as _).collect();
    case(&handles)
}

mod postgres_shared {
    menon_harness_server::shared_store_conformance!(super::postgres_shared);
}
