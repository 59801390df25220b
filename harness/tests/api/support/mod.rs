//! Test support: runs the real `menon-harness` binary (`serve` on a free loopback port,
//! a temp data folder holding a real SQLite file, or with `MENON_TEST_BACKEND=postgres`
//! a fresh schema of the test PostgreSQL) and talks to it over real HTTP.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub mod metrics;
pub mod receiver;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_menon-harness");

/// The suite runs its servers on PostgreSQL (`MENON_TEST_BACKEND=postgres`), not on
/// SQLite files; any other value is refused.
pub fn on_postgres() -> bool {
    match std::env::var("MENON_TEST_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Ok("") | Err(_) => false,
        Ok(other) => panic!("MENON_TEST_BACKEND={other}: give sqlite or postgres"),
    }
}

/// The file in a data folder that names its PostgreSQL schema's URL.
const DATABASE_URL_FILE: &str = "test-database-url";

/// A server's data folder: a temp folder (the JWT key, and the SQLite file) and, on
/// PostgreSQL, a fresh schema whose URL the folder names; both removed on drop.
pub struct DataDir {
    // Dropped first: the schema, then the folder.
    _database: Option<menon_harness_server::store::testdb::TestDatabase>,
    dir: tempfile::TempDir,
}

impl DataDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A new data folder on the suite's backend.
pub fn data_dir() -> DataDir {
    data_dir_on(on_postgres())
}

/// A new data folder on PostgreSQL, whatever the suite's backend: for what only a shared
/// database does (several instances on one queue: the fault suite's).
#[allow(dead_code)]
pub fn postgres_data_dir() -> DataDir {
    data_dir_on(true)
}

fn data_dir_on(postgres: bool) -> DataDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = postgres.then(|| {
        let database = menon_harness_server::store::testdb::TestDatabase::create()
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join(DATABASE_URL_FILE), database.url()).expect("write url");
        database
    });
    DataDir {
        _database: database,
        dir,
    }
}

/// The PostgreSQL URL of the data folder `dir`, if it has one.
fn database_url(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(DATABASE_URL_FILE)).ok()
}

/// Points `command` at the database of the data folder `dir`.
pub fn use_database(command: &mut Command, dir: &Path) {
    command
        .env_remove("MENON_DATABASE")
        .env_remove("MENON_DATABASE_URL");
    if let Some(url) = database_url(dir) {
        command.env("MENON_DATABASE_URL", url);
    }
}

/// The `COUNT(*)` (or other integer) that `sql` selects in the database of `dir`.
pub fn count(dir: &Path, sql: &str) -> i64 {
    match database_url(dir) {
        Some(url) => {
            menon_harness_server::store::testdb::count(&url, sql).unwrap_or_else(|e| panic!("{e}"))
        }
        None => {
            let db = rusqlite::Connection::open(dir.join("menon.db")).unwrap();
            db.query_row(sql, [], |row| row.get(0)).unwrap()
        }
    }
}

/// The first column of the rows that `sql` selects, `$1` bound to `param`, in the
/// database of `dir`.
pub fn strings(dir: &Path, sql: &str, param: &str) -> Vec<String> {
    match database_url(dir) {
        Some(url) => menon_harness_server::store::testdb::strings(&url, sql, param)
            .unwrap_or_else(|e| panic!("{e}")),
        None => {
            let db = rusqlite::Connection::open(dir.join("menon.db")).unwrap();
            let mut query = db.prepare(sql).unwrap();
            let rows = query
                .query_map([param], |row| row.get::<_, String>(0))
                .unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        }
    }
}

/// A running `menon-harness serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// The data folder.
    pub dir: PathBuf,
    logs: Arc<Mutex<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
    client: reqwest::Client,
}

/// Runs `menon-harness <args>` to completion and returns its stdout, trimmed.
pub fn cli(args: &[&str]) -> String {
    let mut command = Command::new(BIN);
    command.args(args);
    if let Some(dir) = args
        .iter()
        .position(|&a| a == "--data-dir")
        .and_then(|i| args.get(i + 1))
    {
        use_database(&mut command, Path::new(dir));
    }
    let out = command.output().expect("run menon-harness");
    assert!(
        out.status.success(),
        "menon-harness {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 stdout")
        .trim()
        .to_owned()
}

impl Server {
    /// Starts a server on `dir` with `--allow-target=loopback` (as tests and local grading run it).
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &["--allow-target=loopback"])
    }

    /// Starts a server on `dir` with extra flags.
    pub fn start_with(dir: &Path, flags: &[&str]) -> Self {
        Self::start_with_env(dir, flags, &[])
    }

    /// Starts a server on `dir` with extra flags and environment variables.
    pub fn start_with_env(dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        use_database(&mut command, dir);
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(flags)
            .env("RUST_LOG", "info,menon_harness=trace,tower_http=trace")
            .env_remove("MENON_ALLOW_TARGETS")
            // The fault and dispatch tests publish thousands of events at once, far past
            // a seller's default publish rate; the rate's own tests set it by flag.
            .env("MENON_PUBLISH_RATE", "1000000")
            .env("MENON_PUBLISH_BURST", "1000000")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn menon-harness serve");
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&logs);
        let log_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("logs")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!(
                    "server printed no URL; logs:\n{}",
                    logs.lock().expect("logs")
                )
            });
        let url = line
            .rsplit(' ')
            .next()
            .expect("URL in the first line")
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Self {
            child,
            url,
            dir: dir.to_path_buf(),
            logs,
            log_reader: Some(log_reader),
            client: reqwest::Client::new(),
        }
    }

    /// A seller JWT from `menon-harness token`.
    pub fn token(&self, seller: &str) -> String {
        cli(&[
            "token",
            "--seller",
            seller,
            "--data-dir",
            self.dir.to_str().expect("path"),
        ])
    }

    /// An API key from `menon-harness api-key create` (the server runs meanwhile: WAL).
    pub fn api_key(&self, seller: &str) -> String {
        cli(&[
            "api-key",
            "create",
            "--seller",
            seller,
            "--data-dir",
            self.dir.to_str().expect("path"),
        ])
    }

    /// Sends a request; the body (if any) as JSON. Returns the status, the parsed body
    /// and its raw text.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value, String) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::finish(request).await
    }

    /// Creates a webhook through the seller API, asserting 201; returns the response
    /// (`data.webhook` holds the webhook and its secret).
    pub async fn create_webhook(&self, token: &str, body: &Value) -> Value {
        let (status, created, text) = self
            .call(
                Method::POST,
                "/api/seller/webhooks",
                Some(token),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{text}");
        created
    }

    /// Sends a raw body with an optional content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(bearer)
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        Self::finish(request).await
    }

    async fn finish(request: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
        (status, value, text)
    }

    /// Stops the server with SIGTERM, checks it exits cleanly, and returns its logs.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "server exited with {exit}");
        if let Some(reader) = self.log_reader.take() {
            reader.join().expect("log reader");
        }
        self.logs.lock().expect("logs").clone()
    }
}

impl Server {
    /// Sends SIGTERM and returns at once: the server starts shutting down (its `logs` say
    /// how far it got); [`Server::stop`] then waits for it to exit.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (`TERM`, `STOP`, `CONT`, …) and returns at once.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Kills the server with SIGKILL (`kill -9`): no shutdown, no drain.
    pub fn kill(mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill -KILL");
        assert!(status.success());
        let _ = self.child.wait();
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    /// Sends SIGTERM and waits for the process to exit, for at most `limit` (a safety
    /// net: past it the server is killed and the test fails). Returns whether it exited
    /// successfully, and its logs.
    pub fn stop_within(mut self, limit: Duration) -> (bool, String) {
        self.terminate();
        let deadline = std::time::Instant::now() + limit;
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                break exit;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the server did not exit within {limit:?} of SIGTERM; logs:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.log_reader.take() {
            reader.join().expect("log reader");
        }
        (exit.success(), self.logs())
    }

    /// `/metrics`, parsed.
    pub async fn metrics(&self) -> metrics::Samples {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        metrics::Samples::parse(&text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts a refusal: the status, `success: false` and the error code.
#[track_caller]
pub fn assert_refused(
    (status, body, text): &(StatusCode, Value, String),
    expected_status: u16,
    code: &str,
) {
    assert_eq!(status.as_u16(), expected_status, "{text}");
    assert_eq!(body["success"], false, "{text}");
    assert_eq!(body["error"]["code"], code, "{text}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{text}"
    );
}
