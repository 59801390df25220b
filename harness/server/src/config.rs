//! Settings of the `menon-harness` commands: flags, their environment variables and
//! the embedded defaults, so that `menon-harness serve` runs with no configuration at all.
//!
//! Everything lives in one data folder (default `./menon-data`): the SQLite database
//! `menon.db` and the generated JWT key `jwt.key`. Either can be placed elsewhere, and the
//! database can be PostgreSQL instead (`--database postgres://…`), shared by several
//! instances.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::store::Database;

/// Where the harness keeps its state.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder for the database and the JWT key; created if missing.
    #[arg(long, env = "MENON_DATA_DIR", default_value = "./menon-data")]
    pub data_dir: PathBuf,

    /// The database: a SQLite file, or a PostgreSQL URL (postgres://user@host:port/db)
    /// that several instances share [default: <data-dir>/menon.db].
    #[arg(long, env = "MENON_DATABASE")]
    pub database: Option<String>,

    /// A PostgreSQL URL, as hosted databases hand it out; the same as `--database` with a
    /// URL.
    #[arg(long, env = "MENON_DATABASE_URL", conflicts_with = "database")]
    pub database_url: Option<String>,

    /// File holding the HS256 key for seller JWTs; generated (mode 0600) if missing
    /// [default: <data-dir>/jwt.key].
    #[arg(long, env = "MENON_JWT_KEY_FILE")]
    pub jwt_key_file: Option<PathBuf>,
}

impl DataArgs {
    /// The database: `--database-url`, else `--database` (a URL when it starts with
    /// `postgres://` or `postgresql://`, else a file), else `<data-dir>/menon.db`.
    pub fn database(&self) -> Database {
        match (&self.database_url, &self.database) {
            (Some(url), _) => Database::Postgres(url.clone()),
            (None, Some(text))
                if text.starts_with("postgres://") || text.starts_with("postgresql://") =>
            {
                Database::Postgres(text.clone())
            }
            (None, Some(path)) => Database::Sqlite(PathBuf::from(path)),
            (None, None) => Database::Sqlite(self.data_dir.join("menon.db")),
        }
    }

    /// The JWT key file.
    pub fn jwt_key_path(&self) -> PathBuf {
        self.jwt_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt.key"))
    }

    /// The key file that seals webhook secrets when `MENON_SECRET_KEY` is not set
    /// (`secret.key` in the data folder; see `seal.rs`).
    pub fn secret_key_path(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    /// The key that seals webhook secrets: `MENON_SECRET_KEY`, else the key file
    /// (created on first use).
    pub fn secret_key(&self) -> Result<crate::seal::SecretKey, crate::seal::SealError> {
        let env = std::env::var("MENON_SECRET_KEY").ok();
        crate::seal::SecretKey::resolve(env.as_deref(), &self.secret_key_path())
    }

    /// Creates the data folder (mode 0700 on unix) if it does not exist.
    pub fn ensure_data_dir(&self) -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.data_dir)
    }
}

/// Settings of `menon-harness serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the URL printed says which).
    #[arg(long, env = "MENON_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// How long one delivery attempt may take before it counts as failed (e.g. 10s, 500ms).
    #[arg(long, env = "MENON_DELIVERY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,

    /// On SIGTERM or Ctrl-C: how long attempts in flight and open HTTP requests may run
    /// before they are cut off (e.g. 10s, 500ms). Attempts cut off are recorded as
    /// interrupted and retried on the schedule; then the process exits.
    #[arg(long, env = "MENON_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// HTTP connections open at once. At the cap the server stops accepting: new clients
    /// wait in the listen backlog and are served as soon as a connection ends (a client
    /// that sends no complete request head for 30 s, or sits idle that long, is cut off).
    #[arg(long, env = "MENON_MAX_CONNECTIONS",
          default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// How long a client may take to send a request's head (request line and headers),
    /// which is also how long a keep-alive connection may sit idle [default: 30s]. For
    /// tests.
    #[arg(long, hide = true, value_parser = parse_deadline)]
    pub header_read_timeout: Option<Duration>,

    /// How long a client may take to send a request's whole body once its head is in
    /// [default: 30s]. For tests.
    #[arg(long, hide = true, value_parser = parse_deadline)]
    pub body_read_timeout: Option<Duration>,

    /// Deliveries in flight at once.
    #[arg(long, env = "MENON_WORKERS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,

    /// Deliveries in flight at once to one endpoint (webhook); an endpoint whose recent
    /// attempts all failed gets one at a time until one succeeds. Endpoints take turns
    /// for the workers, so one seller's slow or dead endpoint never holds them all.
    #[arg(long, env = "MENON_ENDPOINT_CONCURRENCY",
          default_value_t = crate::dispatch::DEFAULT_PER_ENDPOINT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub endpoint_concurrency: u16,

    /// Also accept endpoint URLs in this address range: a CIDR block (10.0.0.0/8,
    /// fd00::/8), one address, or `loopback` (127.0.0.0/8 and ::1). Repeatable; the
    /// environment variable takes a comma-separated list. With any range allowed, plain
    /// http is accepted too. None by default: public addresses only. For tests and local
    /// grading.
    #[arg(
        long = "allow-target",
        value_name = "CIDR",
        env = "MENON_ALLOW_TARGETS",
        value_delimiter = ','
    )]
    pub allow_targets: Vec<crate::target::TargetRange>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "MENON_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// The most webhooks one seller may have; creating one more answers 409
    /// `webhook_limit_reached`.
    #[arg(long, env = "MENON_MAX_WEBHOOKS", default_value_t = crate::service::limits::DEFAULT_MAX_WEBHOOKS,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_webhooks: u32,

    /// Events one seller may publish per second, sustained (a token bucket per seller,
    /// per instance); beyond it `POST …/events` answers 429 with `Retry-After`.
    #[arg(long, env = "MENON_PUBLISH_RATE", default_value_t = crate::service::limits::DEFAULT_PUBLISH_RATE,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_rate: u32,

    /// Events one seller may publish at once, above the rate (the bucket's size).
    #[arg(long, env = "MENON_PUBLISH_BURST", default_value_t = crate::service::limits::DEFAULT_PUBLISH_BURST,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_burst: u32,

    /// How long to keep events once none of their deliveries is pending: then they are
    /// forgotten with their delivery logs (`30d`, `12h`, …; `off` keeps them for ever).
    #[arg(long, env = "MENON_RETENTION", default_value = "30d")]
    pub retention: crate::service::retention::Retention,

    /// Run the server's clock N times faster than the wall clock, to watch the 26.6-hour
    /// retry schedule go by: 3600 makes an hour pass in a second (the whole schedule in
    /// about 27 s). Signatures still carry the wall time. For demos and tests only.
    #[arg(long, env = "MENON_TIME_SCALE", default_value_t = 1.0, value_parser = parse_scale)]
    pub time_scale: f64,

    /// With --time-scale: the wall time (unix seconds) from which the clock runs faster,
    /// reading the wall time then. Instances sharing one database under --time-scale must
    /// be given the same value, so that their clocks agree [default: when serve starts].
    #[arg(long, env = "MENON_TIME_SCALE_FROM", value_name = "UNIX_SECONDS")]
    pub time_scale_from: Option<u64>,

    /// Print, after the URL, a link that signs a browser in to the dashboard (/dashboard)
    /// as SELLER [sel_demo when no seller is given]. The link works once, within an hour.
    /// For development and demos only: without it, sign in by pasting a token from
    /// `menon-harness token --seller <id>`.
    #[arg(
        long,
        env = "MENON_DEV_SIGN_IN",
        value_name = "SELLER",
        num_args = 0..=1,
        default_missing_value = "sel_demo",
        value_parser = parse_seller
    )]
    pub dev_sign_in: Option<String>,

    /// Where the state lives (`--data-dir`).
    #[command(flatten)]
    pub data: DataArgs,
}

impl ServeArgs {
    /// The per-seller limits the flags set.
    pub fn limits(&self) -> crate::service::limits::Limits {
        crate::service::limits::Limits {
            max_webhooks: self.max_webhooks,
            publish_rate: self.publish_rate,
            publish_burst: self.publish_burst,
        }
    }
}

fn parse_seller(text: &str) -> Result<String, String> {
    crate::auth::parse_seller_id(text)
        .map(|seller| seller.0)
        .ok_or_else(|| {
            format!(
                "{text:?} is not a seller id: give 1 to 128 printable characters, e.g. sel_demo"
            )
        })
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (1.0..=1_000_000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a time scale: give a number from 1 (real time) to 1000000"
        )),
    }
}

/// `--max-connections` by default.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

pub use menon_harness_common::parse_duration;

/// A duration that must not be zero (a zero deadline would cut off every client).
fn parse_deadline(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!(
            "{text:?} is no deadline: give more than 0, e.g. 30s"
        )),
        deadline => Ok(deadline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sellers() {
        assert_eq!(parse_seller("sel_demo"), Ok("sel_demo".into()));
        assert!(parse_seller("").is_err());
        assert!(parse_seller("a\nb").is_err());
    }
}
