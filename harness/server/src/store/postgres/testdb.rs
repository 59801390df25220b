//! A throwaway schema on a real PostgreSQL, for the tests of every crate that runs the
//! store or the server on Postgres. The database is `MENON_TEST_DATABASE_URL` when set,
//! else the one on 127.0.0.1:5432 (user `postgres`, database `test`: CI's); `scripts/test`
//! starts a throwaway cluster when neither answers. When none does, creating one fails
//! with what to do: a Postgres test never passes by not running.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

/// The database the tests use when `MENON_TEST_DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own on the test database, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    base: String,
    schema: String,
    url: String,
}

/// The test database's URL: `MENON_TEST_DATABASE_URL`, or [`DEFAULT_URL`].
pub fn base_url() -> String {
    std::env::var("MENON_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// What [`run`] does with its statement.
enum Op<'a> {
    /// Runs it (any number of statements, no parameters).
    Batch,
    /// Reads the `BIGINT` it selects.
    Count,
    /// Reads the first column of its rows, `$1` bound to the text given.
    Strings(&'a str),
}

/// What [`run`] read.
enum Read {
    Nothing,
    Count(i64),
    Strings(Vec<String>),
}

/// Runs `sql` on the database at `url`, on a thread and runtime of its own (so that
/// async tests may call it too).
fn run(url: &str, sql: &str, op: Op<'_>) -> Result<Read, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let config: tokio_postgres::Config = url
                        .parse()
                        .map_err(|e| format!("{url:?} is not a PostgreSQL URL: {e}"))?;
                    let connecting =
                        tokio::time::timeout(Duration::from_secs(10), config.connect(NoTls));
                    let (client, connection) = match connecting.await {
                        Ok(Ok(connected)) => connected,
                        Ok(Err(e)) => return Err(no_database(url, &e.to_string())),
                        Err(_) => return Err(no_database(url, "no answer within 10 s")),
                    };
                    tokio::spawn(connection);
                    let read = match op {
                        Op::Batch => client.batch_execute(sql).await.map(|()| Read::Nothing),
                        Op::Count => match client.query_one(sql, &[]).await {
                            Ok(row) => row.try_get(0).map(Read::Count),
                            Err(e) => Err(e),
                        },
                        Op::Strings(param) => match client.query(sql, &[&param]).await {
                            Ok(rows) => rows
                                .iter()
                                .map(|row| row.try_get(0))
                                .collect::<Result<_, _>>()
                                .map(Read::Strings),
                            Err(e) => Err(e),
                        },
                    };
                    read.map_err(|e| format!("{sql} on {url}: {e}"))
                })
            })
            .join()
            .unwrap_or_else(|_| Err("the database thread panicked".into()))
    })
}

/// Runs `sql` on the test database at `base`.
fn admin(base: &str, sql: &str) -> Result<(), String> {
    run(base, sql, Op::Batch).map(|_| ())
}

/// The `BIGINT` (a `COUNT(*)`) that `sql` selects on the database at `url`.
pub fn count(url: &str, sql: &str) -> Result<i64, String> {
    match run(url, sql, Op::Count)? {
        Read::Count(n) => Ok(n),
        _ => Err("no count read".into()),
    }
}

/// The first column of each row that `sql` selects on the database at `url`, with `$1`
/// bound to `param`.
pub fn strings(url: &str, sql: &str, param: &str) -> Result<Vec<String>, String> {
    match run(url, sql, Op::Strings(param))? {
        Read::Strings(rows) => Ok(rows),
        _ => Err("no rows read".into()),
    }
}

fn no_database(base: &str, why: &str) -> String {
    format!(
        "no PostgreSQL for the tests at {base} ({why}). Run `scripts/test` (it starts a \
         throwaway cluster when none answers), set MENON_TEST_DATABASE_URL to a database \
         the tests may create schemas in, or start PostgreSQL on 127.0.0.1:5432 \
         (user postgres, trust auth, database test)"
    )
}

impl TestDatabase {
    /// Creates a new, empty schema on the test database.
    pub fn create() -> Result<Self, String> {
        Self::create_in(&base_url(), "menon_test")
    }

    /// Creates a new, empty schema named `<prefix>_<pid>_<n>_<nanos>` on the database at
    /// `base` (`bench --postgres` measures in one).
    pub fn create_in(base: &str, prefix: &str) -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!(
            "{prefix}_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let base = base.to_string();
        let create = format!("CREATE SCHEMA {schema}");
        admin(&base, &create)?;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Ok(Self { base, schema, url })
    }

    /// The URL of the schema: the test database with its `search_path`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(e) = admin(&self.base, &drop_schema) {
            eprintln!("cannot drop the test schema {}: {e}", self.schema);
        }
    }
}
