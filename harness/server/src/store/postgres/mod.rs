//! The store for several server instances on one database: PostgreSQL through
//! tokio-postgres (its blocking client, `postgres`) and an r2d2 pool. Schema migrations are compiled into the binary,
//! applied at open under an advisory lock (instances starting together migrate once) and
//! tracked in `menon_schema`; a newer schema than the binary knows is refused. This file
//! opens the pool and migrates; each store trait is implemented in the file named after
//! its concern, as for SQLite.
//!
//! The store traits are synchronous (see `store`), and so is the client used for them:
//! each pooled connection is driven by the thread that runs the statement (tokio's
//! blocking pool, a CLI's main thread), so a statement costs one round trip and no
//! hand-off between threads (a claim is several statements, and the dispatcher waits for
//! it). Only the `LISTEN` connection and the announcer run on a small runtime of the
//! store's own. As with any blocking client, never call the store from an async task:
//! use `store::blocking`.
//!
//! Many instances, one queue: claims run one at a time under a transaction-scoped
//! advisory lock (a claim is a few milliseconds), so each reads the leases the one before
//! it took and no endpoint's in-flight limit is exceeded; the rows they lease are locked
//! (`FOR UPDATE SKIP LOCKED`) against everything else; results are fenced by the lease's
//! token, as on SQLite, and those that arrive together are recorded in one statement
//! (`store::group`). The next lease a finished attempt's worker takes
//! (`finish_and_take_next`) needs no lock: one of its webhook's leases ends as it begins,
//! in one transaction.
//! A publish wakes the other instances' dispatchers with `NOTIFY` (`LISTEN` in
//! [`QueueStore::watch_publishes`](super::QueueStore::watch_publishes)); its own
//! instance's was woken directly, and its listener ignores its own announcements.

mod credentials;
mod events;
mod logs;
mod queue;
mod sessions;
#[doc(hidden)]
pub mod testdb;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{NoTls, Row, Statement};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use super::group::GroupCommit;
use super::model::{secs, unsigned};
use super::StoreError;

/// The migrations, in order; `menon_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_due_order.sql"),
    include_str!("../../../migrations/postgres/0003_revoked_tokens.sql"),
    include_str!("../../../migrations/postgres/0004_retention.sql"),
    include_str!("../../../migrations/postgres/0005_scheme.sql"),
    include_str!("../../../migrations/postgres/0006_queue_depth_per_statement.sql"),
];

/// Connections each instance's pool opens at most: the dispatcher's claims and results
/// plus the API's requests. Three instances stay well inside PostgreSQL's default
/// `max_connections` of 100.
const POOL_SIZE: u32 = 16;

/// The channel publishes are announced on; the payload is the schema, so that instances
/// of another schema in the same database ignore them.
const CHANNEL: &str = "menon_queue";

/// A [`Store`](crate::store::Store) on a PostgreSQL database, shared by any number of
/// server instances.
pub struct PostgresStore {
    /// Runs the listener and the announcer; always `Some` until dropped (taken to shut
    /// down without blocking).
    runtime: Option<Runtime>,
    /// Always `Some` until dropped (taken to close it where blocking is allowed).
    pool: Option<r2d2::Pool<Manager>>,
    /// For the listener's and the announcer's connections.
    config: tokio_postgres::Config,
    /// The schema this store's tables live in (`current_schema()`).
    schema: String,
    /// Poked after each publish that queued something: a task sends one `NOTIFY` for
    /// however many pokes came while it was sending the last.
    announce: Arc<Announcements>,
    /// Attempts' results waiting to be recorded together (`queue::settle_all`).
    settles: GroupCommit<
        (crate::store::AttemptResult, Option<crate::store::NextLease>),
        (crate::store::Finished, Option<crate::store::Claim>),
    >,
}

/// Publishes to announce: pokes counted as they come, and how many of them an
/// announcement has covered. The announcer task sends one `NOTIFY` for however many
/// pokes came while it was sending the last; a store dropped with some not covered (a CLI
/// exiting right after its publish) sends one more before it goes.
#[derive(Debug, Default)]
struct Announcements {
    wake: Notify,
    poked: std::sync::atomic::AtomicU64,
    covered: std::sync::atomic::AtomicU64,
    /// The server process (backend pid) of the connection announcements are sent on, 0
    /// before the first: this store's listener ignores its own announcements (the
    /// publish woke its dispatcher already).
    sender: std::sync::atomic::AtomicI32,
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

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Database(format!("cannot get a database connection: {e}"))
    }
}

/// A pooled client and the statements it has prepared, by their SQL.
struct Client {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
    /// Left inside a transaction (a panic between BEGIN and COMMIT): the pool closes it
    /// instead of handing it out again.
    broken: bool,
}

/// Set on each pooled connection. The store's statements look rows up by key or walk
/// an index; none wants a whole table read. PostgreSQL keeps a prepared statement's
/// generic plan on a connection until the table's statistics change: planned while the queue was nearly empty (a fresh schema, the first
/// seconds of a burst) and with no statistics yet (autovacuum off, or not yet run), it
/// read every row of `delivery_attempts` to find the few a result completes, on every
/// run, however large the table had grown. Scans stay possible where no index serves.
const NO_TABLE_SCANS: &str = "SET enable_seqscan = off";

/// Set on each pooled connection too (PostgreSQL 12 or later): a statement is planned once
/// per connection, at its first run, not per call. Left to choose, PostgreSQL planned the
/// claims' take statement on every call and the results' statement on one call in four
/// (`pg_stat_statements`, 500 events/s: 2.9 s of planning in 10 s); with no table scans,
/// the queue's plans are index walks whatever the values. The lists whose optional
/// filters need the values to become index conditions ask for their own plan
/// ([`Conn::query_planned_per_call`]).
const GENERIC_PLANS: &str = "SET plan_cache_mode = force_generic_plan";

/// For one statement whose plan must know its parameters' values
/// ([`Conn::query_planned_per_call`]).
const CUSTOM_PLANS: &str = "SET plan_cache_mode = force_custom_plan";

/// Opens the pool's connections.
#[derive(Debug)]
struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Client, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        client.batch_execute(&format!("{NO_TABLE_SCANS}; {GENERIC_PLANS}"))?;
        Ok(Client {
            client,
            statements: HashMap::new(),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut Client) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.broken || conn.client.is_closed()
    }
}

/// How often a write that PostgreSQL aborted to break a deadlock is run again.
const DEADLOCK_RETRIES: usize = 3;

/// Runs `write` (a whole transaction, or one statement) again when PostgreSQL aborted it
/// to break a deadlock (SQLSTATE 40P01): writes that lock a webhook and its deliveries in
/// different orders (re-enabling, deleting, recording a result) can meet, and one of
/// them is chosen to fail; run again, it goes through.
pub(super) fn retrying<T>(
    mut write: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut tries = 0;
    loop {
        match write() {
            Err(StoreError::Database(e)) if e.starts_with("40P01") && tries < DEADLOCK_RETRIES => {
                tries += 1;
                tracing::warn!(
                    tries,
                    "a write was aborted to break a deadlock; running it again"
                );
            }
            done => return done,
        }
    }
}

/// A count stored as BIGINT back as `u32`.
fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(if v < 0 { 0 } else { u32::MAX })
}

/// The parameters of a statement.
type Params<'a> = [&'a (dyn ToSql + Sync)];

/// One pooled connection, used by the calling thread. Statements are prepared once per
/// connection and cached.
pub(super) struct Conn {
    client: RefCell<r2d2::PooledConnection<Manager>>,
    /// Inside a transaction not yet committed nor rolled back.
    in_transaction: bool,
}

impl Conn {
    /// Runs `run` with the connection's client and `sql` prepared.
    fn with_statement<T>(
        &self,
        sql: &str,
        run: impl FnOnce(&mut postgres::Client, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.client.borrow_mut();
        let Client {
            client, statements, ..
        } = &mut **conn;
        let statement = match statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = client.prepare(sql)?;
                statements.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        Ok(run(client, &statement)?)
    }

    /// The rows `sql` returns.
    pub(super) fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.with_statement(sql, |client, statement| client.query(statement, params))
    }

    /// The rows `sql` returns, planned for these parameters' values: for a list whose
    /// optional filters (`$n IS NULL OR …`) only become index conditions (a cursor, a
    /// status) in a plan that knows which are given. Two round trips more than
    /// [`query`](Self::query).
    pub(super) fn query_planned_per_call(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        self.batch(CUSTOM_PLANS)?;
        let rows = self.query(sql, params);
        if self.batch(GENERIC_PLANS).is_err() {
            // Not back to the pool with another planning mode: closed instead.
            self.client.borrow_mut().broken = true;
        }
        rows
    }

    /// The row `sql` returns, if any (more than one is an error).
    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        self.with_statement(sql, |client, statement| client.query_opt(statement, params))
    }

    /// The one row `sql` returns.
    pub(super) fn query_one(&self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Database(format!("no row from {sql}")))
    }

    /// Runs `sql`, returning how many rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        self.with_statement(sql, |client, statement| client.execute(statement, params))
    }

    /// Runs statements with no parameters in one round trip.
    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.borrow_mut().client.batch_execute(sql)?)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A transaction left open must not go back to the pool: it is closed instead.
        if self.in_transaction {
            self.client.get_mut().broken = true;
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`; its
    /// `options=-csearch_path=…` picks a schema), checks that it answers and brings its
    /// schema up to date. A schema newer than this binary's is refused.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let not_a_url =
            |e: postgres::Error| StoreError::Database(format!("not a PostgreSQL URL: {e}"));
        let config: tokio_postgres::Config = url.parse().map_err(not_a_url)?;
        let blocking: postgres::Config = url.parse().map_err(not_a_url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("menon-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start the driver: {e}")))?;
        // One connection at once to start with, and it must answer: a wrong URL is an
        // error here, not at the first request.
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { config: blocking })?;
        let mut store = Self {
            runtime: Some(runtime),
            pool: Some(pool),
            config,
            schema: String::new(),
            announce: Arc::new(Announcements::default()),
            settles: GroupCommit::default(),
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
            store.config.clone(),
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
    pub(super) fn conn(&self) -> Result<Conn, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::Database("the store is closed".into()))?;
        Ok(Conn {
            client: RefCell::new(pool.get()?),
            in_transaction: false,
        })
    }

    /// Runs `body` in a transaction: committed when it returns `Ok`, rolled back when
    /// it returns an error.
    pub(super) fn transaction<T>(
        &self,
        body: impl FnMut(&Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction_after("", body)
    }

    /// [`transaction`](Self::transaction), running `first` (statements with no
    /// parameters, such as taking a lock) in the same round trip as `BEGIN`.
    pub(super) fn transaction_after<T>(
        &self,
        first: &str,
        mut body: impl FnMut(&Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        retrying(|| {
            let mut conn = self.conn()?;
            conn.in_transaction = true;
            conn.batch(&format!("BEGIN; {first}"))?;
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
        })
    }

    /// Announces a publish to every instance (see [`listen`](Self::listen)).
    fn announce_publish(&self) {
        self.announce
            .poked
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.announce.wake.notify_one();
    }

    /// Wakes `wake` on every publish another store (an instance, a CLI) announces on
    /// this database and schema (see
    /// [`QueueStore::watch_publishes`](crate::store::QueueStore::watch_publishes)), on a
    /// connection of its own, reconnecting (and waking once, for what it may have
    /// missed) when it drops.
    fn listen(&self, wake: Arc<Notify>) {
        self.runtime().spawn(listener(
            self.config.clone(),
            self.schema.clone(),
            Arc::clone(&self.announce),
            wake,
        ));
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing a blocking client blocks (it says goodbye to the server): where that is
        // not allowed (the last handle dropped by an async task, as `serve` does at its
        // end), the pool is closed on a thread of its own.
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(pool));
            } else {
                drop(pool);
            }
        }
        if let Some(runtime) = self.runtime.take() {
            // A CLI (`emit`) exits right after its publish: send the announcement still
            // owed, when blocking here is allowed (outside any async runtime).
            let owed = self
                .announce
                .poked
                .load(std::sync::atomic::Ordering::SeqCst)
                > self
                    .announce
                    .covered
                    .load(std::sync::atomic::Ordering::SeqCst);
            if owed && tokio::runtime::Handle::try_current().is_err() {
                let (config, schema) = (self.config.clone(), self.schema.clone());
                runtime.block_on(async move {
                    let mut announcing = None;
                    send_announcement(&config, &mut announcing, &schema, None).await;
                });
            }
            runtime.shutdown_background();
        }
    }
}

/// Sends `NOTIFY` for each poke of `announce` (one for any number that came while the
/// last was being sent), on a connection of its own. `synchronous_commit` is off for it:
/// a lost announcement costs one poll interval, never a delivery.
async fn announcer(config: tokio_postgres::Config, announce: Arc<Announcements>, schema: String) {
    use std::sync::atomic::Ordering;
    let mut announcing = None;
    loop {
        announce.wake.notified().await;
        let poked = announce.poked.load(Ordering::SeqCst);
        if send_announcement(&config, &mut announcing, &schema, Some(&announce)).await {
            announce.covered.fetch_max(poked, Ordering::SeqCst);
        }
    }
}

/// Sends one announcement on `announcing`, connecting it first when needed (and noting
/// its server process in `own.sender` while it lasts); `false` when it could not (the
/// connection is dropped, to be made again next time).
async fn send_announcement(
    config: &tokio_postgres::Config,
    announcing: &mut Option<tokio_postgres::Client>,
    schema: &str,
    own: Option<&Arc<Announcements>>,
) -> bool {
    use std::sync::atomic::{AtomicI32, Ordering};
    if announcing
        .as_ref()
        .map_or(true, tokio_postgres::Client::is_closed)
    {
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                // Once the connection ends its process id is no longer ours: another
                // store's connection may be given it.
                let pid = Arc::new(AtomicI32::new(0));
                let (ended_pid, ended_own) = (Arc::clone(&pid), own.cloned());
                tokio::spawn(async move {
                    let _ = connection.await;
                    if let Some(own) = ended_own {
                        let pid = ended_pid.load(Ordering::SeqCst);
                        let _ =
                            own.sender
                                .compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
                    }
                });
                if let Some(own) = own {
                    match client.query_one("SELECT pg_backend_pid()", &[]).await {
                        Ok(row) => {
                            let backend: i32 = row.try_get(0).unwrap_or(0);
                            pid.store(backend, Ordering::SeqCst);
                            own.sender.store(backend, Ordering::SeqCst);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot start announcing publishes");
                            return false;
                        }
                    }
                }
                *announcing = Some(client);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to announce publishes");
                return false;
            }
        }
    }
    let Some(client) = announcing.as_ref() else {
        return false;
    };
    let payload = schema.replace('\'', "''");
    let sql = format!(
        "BEGIN; SET LOCAL synchronous_commit = off; \
         SELECT pg_notify('{CHANNEL}', '{payload}'); COMMIT"
    );
    match client.batch_execute(&sql).await {
        Ok(()) => true,
        Err(e) => {
            // Possibly left inside the failed transaction: a new connection next time.
            tracing::warn!(error = %e, "cannot announce a publish to the other instances");
            *announcing = None;
            if let Some(own) = own {
                own.sender.store(0, Ordering::SeqCst);
            }
            false
        }
    }
}

/// Listens for announcements of `schema` and wakes `wake` on each but this store's own
/// (`own.sender`; see [`PostgresStore::listen`]).
async fn listener(
    config: tokio_postgres::Config,
    schema: String,
    own: Arc<Announcements>,
    wake: Arc<Notify>,
) {
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
                                let mine = n.process_id()
                                    == own.sender.load(std::sync::atomic::Ordering::SeqCst);
                                if n.payload() == schema && !mine {
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

fn migrate(conn: &Conn) -> Result<(), StoreError> {
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
// three instances). What stays here is PostgreSQL's own: the migrations, the planner
// settings.
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

    /// PostgreSQL's defaults read a small table whole to find rows by key (a plan that,
    /// cached, stays so as the table grows); a pooled connection looks them up in the
    /// index. Shown on a statement shaped as the results' (`queue::settle_all`).
    #[test]
    fn a_small_table_is_searched_by_key() -> Result<(), StoreError> {
        let database = test_database()?;
        let store = PostgresStore::connect(database.url())?;
        crate::store::conformance::webhook(&store, "wh_a", "sel_a")?;
        let conn = store.conn()?;
        conn.batch(
            "INSERT INTO delivery_attempts
                 (id, webhook_id, seller_id, event_id, event_type, status, created_at)
             SELECT 'log_' || n, 'wh_a', 'sel_a', 'evt_' || n, 'listing.created', 'pending', 1
             FROM generate_series(1, 20) n;
             ANALYZE delivery_attempts;",
        )?;
        let plan = |conn: &Conn| -> Result<String, StoreError> {
            let ids: Vec<String> = (1..=14).map(|n| format!("log_{n}")).collect();
            let rows = conn.query(
                "EXPLAIN UPDATE delivery_attempts a SET status = r.status
                 FROM unnest($1::TEXT[], $1::TEXT[]) AS r (token, status)
                 WHERE a.id = ANY($1) AND a.id = r.token",
                &[&ids],
            )?;
            rows.iter()
                .map(|row| row.try_get::<_, String>(0).map_err(StoreError::from))
                .collect()
        };
        let ours = plan(&conn)?;
        assert!(!ours.contains("Seq Scan"), "{ours}");
        assert!(ours.contains("delivery_attempts_pkey"), "{ours}");
        // PostgreSQL's default, to show that the test sees the difference.
        conn.batch("RESET enable_seqscan")?;
        let default = plan(&conn)?;
        assert!(
            default.contains("Seq Scan on delivery_attempts"),
            "{default}"
        );
        conn.batch(NO_TABLE_SCANS)?;
        Ok(())
    }

    /// A list is planned for its values, and the connection goes back to one plan per
    /// statement afterwards.
    #[test]
    fn a_list_is_planned_per_call_and_only_it() -> Result<(), StoreError> {
        let database = test_database()?;
        let store = PostgresStore::connect(database.url())?;
        let conn = store.conn()?;
        let mode = "SELECT current_setting('plan_cache_mode')";
        let during = conn.query_planned_per_call(mode, &[])?;
        assert_eq!(during[0].try_get::<_, String>(0)?, "force_custom_plan");
        let after = conn.query(mode, &[])?;
        assert_eq!(after[0].try_get::<_, String>(0)?, "force_generic_plan");
        // A failing list changes nothing either.
        assert!(conn
            .query_planned_per_call("SELECT * FROM no_such_table", &[])
            .is_err());
        let after = conn.query(mode, &[])?;
        assert_eq!(after[0].try_get::<_, String>(0)?, "force_generic_plan");
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
