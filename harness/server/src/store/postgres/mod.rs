//! The store for several server instances on one database: PostgreSQL through
//! tokio-postgres and a deadpool pool. Schema migrations are compiled into the binary,
//! applied at open under an advisory lock (instances starting together migrate once) and
//! tracked in `menon_schema`; a newer schema than the binary knows is refused. This file
//! opens the pool and migrates; each store trait is implemented in the file named after
//! its concern, as for SQLite.
//!
//! The store traits are synchronous (see `store`), and the driver is async: the store
//! owns a small tokio runtime that drives the pool's connections, and each statement
//! blocks the calling thread (tokio's blocking pool, a CLI's main thread) on it.
//!
//! Many instances, one queue: claims lock the rows they lease (`FOR UPDATE SKIP
//! LOCKED`) and take an endpoint's turn under a transaction-scoped advisory lock, so
//! concurrent claims from several instances never lease a delivery twice nor exceed an
//! endpoint's in-flight limit; results are fenced by the lease's token, as on SQLite. A
//! publish wakes every instance's dispatcher with `NOTIFY` (`LISTEN` in
//! [`QueueStore::watch_publishes`](super::QueueStore::watch_publishes)).

mod credentials;
mod logs;
mod queue;
mod sessions;
#[doc(hidden)]
pub mod testdb;
mod webhooks;

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::StoreError;

/// The migrations, in order; `menon_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[include_str!("../../../migrations/postgres/0001_init.sql")];

/// Connections each instance's pool opens at most: the dispatcher's claims and results
/// plus the API's requests. Three instances stay well inside PostgreSQL's default
/// `max_connections` of 100.
const POOL_SIZE: usize = 16;

/// The channel publishes are announced on; the payload is the schema, so that instances
/// of another schema in the same database ignore them.
const CHANNEL: &str = "menon_queue";

/// A [`Store`](crate::store::Store) on a PostgreSQL database, shared by any number of
/// server instances.
pub struct PostgresStore {
    /// Always `Some` until dropped (taken to shut down without blocking).
    runtime: Option<Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
    /// The schema this store's tables live in (`current_schema()`).
    schema: String,
    /// Poked after each publish that queued something: a task sends one `NOTIFY` for
    /// however many pokes came while it was sending the last.
    announce: Arc<Notify>,
    /// This instance's results go before its later claims.
    results_first: ResultsFirst,
}

/// Results before claims, within an instance: a claim waits until the results this
/// instance began recording before it are written (SQLite's group commit orders its
/// writes so), so that what an attempt came to (a 410 disabling its webhook, a failure
/// lowering its in-flight limit) holds for the next claim. The dispatcher starts a
/// result's write and then frees the attempt's slot; without this, the claim that slot
/// starts could commit first on another pooled connection.
#[derive(Debug, Default)]
struct ResultsFirst {
    /// The next result's number, and the numbers of those being written.
    writing: Mutex<(u64, BTreeSet<u64>)>,
    written: Condvar,
}

impl ResultsFirst {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeSet<u64>)> {
        self.writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `write` as a result being written.
    fn result<T>(&self, write: impl FnOnce() -> T) -> T {
        let number = {
            let mut writing = self.lock();
            let number = writing.0;
            writing.0 += 1;
            writing.1.insert(number);
            number
        };
        let written = write();
        self.lock().1.remove(&number);
        self.written.notify_all();
        written
    }

    /// Waits until every result begun before now is written.
    fn wait_for_earlier(&self) {
        let mut writing = self.lock();
        let now = writing.0;
        while writing.1.first().is_some_and(|&first| first < now) {
            writing = self
                .written
                .wait(writing)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's message (a constraint, a missing table) is in the source.
        match e.as_db_error() {
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Database(format!("cannot get a database connection: {e}"))
    }
}

/// Unix seconds (or any count) as PostgreSQL stores them (BIGINT).
fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count or time back as unsigned (negative values cannot be written by us).
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A count stored as BIGINT back as `u32`.
fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(if v < 0 { 0 } else { u32::MAX })
}

/// The parameters of a statement.
type Params<'a> = [&'a (dyn ToSql + Sync)];

/// One pooled connection, used synchronously: each call blocks on the store's runtime.
/// Statements are prepared once per connection and cached.
pub(super) struct Conn<'a> {
    runtime: &'a Runtime,
    client: Option<deadpool_postgres::Object>,
    /// Inside a transaction not yet committed nor rolled back.
    in_transaction: bool,
}

impl Conn<'_> {
    fn client(&self) -> Result<&deadpool_postgres::Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Database("the connection was closed".into()))
    }

    /// The rows `sql` returns.
    pub(super) fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let client = self.client()?;
        self.runtime.block_on(async {
            let statement = client.prepare_cached(sql).await?;
            Ok(client.query(&statement, params).await?)
        })
    }

    /// The row `sql` returns, if any (more than one is an error).
    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let client = self.client()?;
        self.runtime.block_on(async {
            let statement = client.prepare_cached(sql).await?;
            Ok(client.query_opt(&statement, params).await?)
        })
    }

    /// The one row `sql` returns.
    pub(super) fn query_one(&self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Database(format!("no row from {sql}")))
    }

    /// Runs `sql`, returning how many rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let client = self.client()?;
        self.runtime.block_on(async {
            let statement = client.prepare_cached(sql).await?;
            Ok(client.execute(&statement, params).await?)
        })
    }

    /// Runs statements with no parameters in one round trip.
    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let client = self.client()?;
        self.runtime
            .block_on(async { Ok(client.batch_execute(sql).await?) })
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        // A transaction left open (a panic between BEGIN and COMMIT) must not go back to
        // the pool: the connection is closed instead.
        if self.in_transaction {
            if let Some(client) = self.client.take() {
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`; its
    /// `options=-csearch_path=…` picks a schema), checks that it answers and brings its
    /// schema up to date. A schema newer than this binary's is refused.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("not a PostgreSQL URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("menon-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start the driver: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StoreError::Database(format!("cannot build the pool: {e}")))?;
        let mut store = Self {
            runtime: Some(runtime),
            pool,
            config,
            schema: String::new(),
            announce: Arc::new(Notify::new()),
            results_first: ResultsFirst::default(),
        };
        store.schema = {
            let conn = store.conn()?;
            conn.query_one("SELECT current_schema()::TEXT", &[])?
                .try_get::<_, Option<String>>(0)?
                .ok_or_else(|| {
                    StoreError::Database(
                        "no schema to create tables in: the search_path names none that exists"
                            .into(),
                    )
                })?
        };
        store.transaction(migrate)?;
        store.runtime().spawn(announcer(
            store.pool.clone(),
            Arc::clone(&store.announce),
            store.schema.clone(),
        ));
        Ok(store)
    }

    fn runtime(&self) -> &Runtime {
        // Taken only by `drop`.
        match &self.runtime {
            Some(runtime) => runtime,
            None => unreachable!("the runtime is only taken when the store is dropped"),
        }
    }

    /// A connection from the pool.
    pub(super) fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let runtime = self.runtime();
        let client = runtime.block_on(self.pool.get())?;
        Ok(Conn {
            runtime,
            client: Some(client),
            in_transaction: false,
        })
    }

    /// Runs `body` in a transaction: committed when it returns `Ok`, rolled back when
    /// it returns an error.
    pub(super) fn transaction<T>(
        &self,
        body: impl FnOnce(&Conn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        conn.batch("BEGIN")?;
        conn.in_transaction = true;
        match body(&conn) {
            Ok(value) => {
                conn.batch("COMMIT")?;
                conn.in_transaction = false;
                Ok(value)
            }
            Err(e) => {
                if conn.batch("ROLLBACK").is_ok() {
                    conn.in_transaction = false;
                }
                Err(e)
            }
        }
    }

    /// Announces a publish to every instance (see [`listen`](Self::listen)).
    fn announce_publish(&self) {
        self.announce.notify_one();
    }

    /// Wakes `wake` on every publish announced on this database and schema (see
    /// [`QueueStore::watch_publishes`](crate::store::QueueStore::watch_publishes)), on a
    /// connection of its own, reconnecting (and waking once, for what it may have
    /// missed) when it drops.
    fn listen(&self, wake: Arc<Notify>) {
        self.runtime()
            .spawn(listener(self.config.clone(), self.schema.clone(), wake));
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // A CLI (`emit`) exits right after its publish: send the announcement still
            // waiting, when blocking here is allowed (outside any async runtime).
            if tokio::runtime::Handle::try_current().is_err() {
                let announce = Arc::clone(&self.announce);
                let pool = self.pool.clone();
                let schema = self.schema.clone();
                runtime.block_on(async move {
                    let pending =
                        tokio::time::timeout(Duration::from_millis(1), announce.notified());
                    if pending.await.is_ok() {
                        send_announcement(&pool, &schema).await;
                    }
                });
            }
            runtime.shutdown_background();
        }
    }
}

/// Sends `NOTIFY` for each poke of `announce` (one for any number that came while the
/// last was being sent). `synchronous_commit` is off for it: a lost announcement costs
/// one poll interval, never a delivery.
async fn announcer(pool: Pool, announce: Arc<Notify>, schema: String) {
    loop {
        announce.notified().await;
        send_announcement(&pool, &schema).await;
    }
}

async fn send_announcement(pool: &Pool, schema: &str) {
    let Ok(client) = pool.get().await else { return };
    let payload = schema.replace('\'', "''");
    let sql = format!(
        "BEGIN; SET LOCAL synchronous_commit = off; \
         SELECT pg_notify('{CHANNEL}', '{payload}'); COMMIT"
    );
    if let Err(e) = client.batch_execute(&sql).await {
        tracing::warn!(error = %e, "cannot announce a publish to the other instances");
    }
}

/// Listens for announcements of `schema` and wakes `wake` on each (see
/// [`PostgresStore::listen`]).
async fn listener(config: tokio_postgres::Config, schema: String, wake: Arc<Notify>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let listening = async {
                    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
                    Ok::<_, tokio_postgres::Error>(())
                };
                // The connection must be polled for LISTEN to complete.
                let drive = async {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                                if n.payload() == schema {
                                    wake.notify_one();
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return e.to_string(),
                            None => return "the connection closed".to_string(),
                        }
                    }
                };
                tokio::pin!(drive);
                tokio::select! {
                    listened = listening => {
                        match listened {
                            Ok(()) => {
                                // Whatever was published while not listening.
                                wake.notify_one();
                                let why = drive.await;
                                tracing::warn!(%why, "stopped listening for publishes; reconnecting");
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot LISTEN for publishes"),
                        }
                    }
                    why = &mut drive => tracing::warn!(%why, "stopped listening for publishes"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect to listen for publishes"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn migrate(conn: &Conn<'_>) -> Result<(), StoreError> {
    // Instances starting together: one migrates, the others wait and find it done.
    conn.batch("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")?;
    conn.batch("CREATE TABLE IF NOT EXISTS menon_schema (version INTEGER NOT NULL)")?;
    let applied: Option<i32> = conn
        .query_opt("SELECT version FROM menon_schema", &[])?
        .map(|row| row.try_get(0))
        .transpose()?;
    let applied = usize::try_from(applied.unwrap_or(0)).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this binary's {}: \
             use a newer menon-harness",
            MIGRATIONS.len()
        )));
    }
    for sql in MIGRATIONS.iter().skip(applied) {
        conn.batch(sql)?;
    }
    let version = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if applied == 0 {
        conn.execute(
            "INSERT INTO menon_schema (version) VALUES ($1)",
            &[&version],
        )?;
    } else if applied < MIGRATIONS.len() {
        conn.execute("UPDATE menon_schema SET version = $1", &[&version])?;
    }
    Ok(())
}

// The store's behaviour is tested once for every backend, by the conformance suite
// (`tests/store.rs` runs it here on a fresh schema per case, and the shared cases on
// three instances). What stays here is PostgreSQL's own: the migrations.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testdb::TestDatabase;

    fn test_database() -> Result<TestDatabase, StoreError> {
        TestDatabase::create().map_err(StoreError::Database)
    }

    #[test]
    fn instances_starting_together_migrate_once() -> Result<(), StoreError> {
        let database = test_database()?;
        let url = database.url().to_string();
        let opened: Vec<Result<PostgresStore, StoreError>> = std::thread::scope(|scope| {
            let starting: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| PostgresStore::connect(&url)))
                .collect();
            starting
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(StoreError::Database("panic".into())))
                })
                .collect()
        });
        let stores = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
        let conn = stores[0].conn()?;
        let versions = conn.query("SELECT version FROM menon_schema", &[])?;
        assert_eq!(versions.len(), 1);
        let version: i32 = versions[0].try_get(0)?;
        assert_eq!(usize::try_from(version).ok(), Some(MIGRATIONS.len()));
        Ok(())
    }

    #[test]
    fn a_newer_schema_is_refused() -> Result<(), StoreError> {
        let database = test_database()?;
        let store = PostgresStore::connect(database.url())?;
        store
            .conn()?
            .execute("UPDATE menon_schema SET version = 99", &[])?;
        drop(store);
        let refused = PostgresStore::connect(database.url()).map(|_| ());
        assert!(
            matches!(&refused, Err(StoreError::Corrupt(e)) if e.contains("newer than this binary")),
            "{refused:?}"
        );
        Ok(())
    }

    #[test]
    fn a_missing_schema_is_a_clear_error() {
        let url = format!(
            "{}{}options=-csearch_path%3Dmenon_no_such_schema",
            crate::store::testdb::base_url(),
            if crate::store::testdb::base_url().contains('?') {
                '&'
            } else {
                '?'
            }
        );
        let refused = PostgresStore::connect(&url).map(|_| ());
        assert!(
            matches!(&refused, Err(StoreError::Database(e)) if e.contains("search_path")),
            "{refused:?}"
        );
    }
}
