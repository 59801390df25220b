//! Issue 17, item 3: slow and idle clients. A client that trickles its request head is
//! cut off at the header deadline, however steadily it trickles; one whose body trickles
//! is answered 408 at the body deadline; and neither kind keeps a new client waiting:
//! below the connection cap it is answered at once, at the cap as soon as a slot frees.
//! The deadlines are shortened with serve's hidden flags; every bound is checked on
//! instants taken around the events, with margins for a busy machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::support::Server;

/// The header deadline the tests serve with.
const HEADER_DEADLINE: Duration = Duration::from_secs(3);
/// How late past a deadline the server may act, on a busy machine.
const MARGIN: Duration = Duration::from_secs(3);
/// Safety net for waits that only end if the server behaves (a hang fails, not blocks).
const HANG: Duration = Duration::from_secs(30);

/// A request head that never ends: its last header's value goes on with `a` for ever.
const ENDLESS_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// Raises the open-file limit of this process, and so of the servers it starts, to
/// `needed` (as far as the hard limit goes), or fails saying why.
fn allow_open_files(needed: u64) {
    let limit = menon_harness_server::server::raise_open_file_limit(needed);
    assert!(
        limit.map_or(true, |limit| limit >= needed),
        "this test needs {needed} open files and the limit is {limit:?}: raise `ulimit -n`"
    );
}

/// When a slow client started connecting, when its connection was up, and when it saw
/// the server close it.
struct Lifetime {
    connecting: Instant,
    connected: Instant,
    closed: Instant,
}

/// How many slow clients got their first byte out, and how many saw their connection
/// closed.
#[derive(Default)]
struct Counts {
    sending: AtomicUsize,
    closed: AtomicUsize,
}

/// A client that sends [`ENDLESS_HEAD`] a byte a second (the first at once) until the
/// server closes the connection (end of stream, or a reset).
async fn trickle_head(address: String, counts: Arc<Counts>) -> Lifetime {
    let connecting = Instant::now();
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let connected = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sent = 0;
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                // Whatever the server says before it closes, it closes.
                Ok(n) if n > 0 => {}
                _ => {
                    counts.closed.fetch_add(1, Ordering::SeqCst);
                    return Lifetime {
                        connecting,
                        connected,
                        closed: Instant::now(),
                    };
                }
            },
            _ = tick.tick() => {
                let byte = ENDLESS_HEAD.get(sent).copied().unwrap_or(b'a');
                // A write the server no longer reads fails; the read says it closed.
                let _ = stream.write_all(&[byte]).await;
                sent += 1;
                if sent == 1 {
                    counts.sending.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Starts `n` [`trickle_head`] clients and returns once each has sent its first byte.
async fn start_trickling(server: &Server, n: usize) -> (JoinSet<Lifetime>, Arc<Counts>) {
    let address = server.url.trim_start_matches("http://").to_owned();
    let counts = Arc::new(Counts::default());
    let mut clients = JoinSet::new();
    for _ in 0..n {
        clients.spawn(trickle_head(address.clone(), Arc::clone(&counts)));
    }
    let deadline = Instant::now() + HANG;
    while counts.sending.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} slow clients got a byte out",
            counts.sending.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (clients, counts)
}

/// Waits for every slow client to see its connection closed (failing past `HANG`).
async fn closed(mut clients: JoinSet<Lifetime>) -> Vec<Lifetime> {
    tokio::time::timeout(HANG, async {
        let mut lifetimes = Vec::new();
        while let Some(lifetime) = clients.join_next().await {
            lifetimes.push(lifetime.expect("a slow client"));
        }
        lifetimes
    })
    .await
    .unwrap_or_else(|_| panic!("the server left slow clients connected for {HANG:?}"))
}

/// `GET /healthz` on a new connection; returns the status and how long it took.
async fn healthz(client: &reqwest::Client, server: &Server) -> (u16, Duration) {
    let asked = Instant::now();
    let answer = tokio::time::timeout(HANG, async {
        let response = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .expect("GET /healthz");
        let status = response.status().as_u16();
        response.bytes().await.expect("the /healthz body");
        status
    })
    .await
    .expect("an answer to GET /healthz");
    (answer, asked.elapsed())
}

/// A client that opens a new connection for each request.
fn new_connection_each_time() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_trickling_heads_are_cut_off_and_a_new_client_is_answered_at_once() {
    const SLOW: usize = 500;
    // The slow clients, this suite's other tests, and the servers it starts.
    allow_open_files(u64::try_from(SLOW).unwrap() + 2048);
    let dir = crate::support::data_dir();
    let deadline = format!("{}ms", HEADER_DEADLINE.as_millis());
    let server = Server::start_with(dir.path(), &["--header-read-timeout", &deadline]);
    let opening = Instant::now();
    let (clients, counts) = start_trickling(&server, SLOW).await;
    let opened = opening.elapsed();

    let client = new_connection_each_time();
    let mut waits = Vec::new();
    for _ in 0..3 {
        let (status, waited) = healthz(&client, &server).await;
        assert_eq!(status, 200);
        waits.push(waited);
    }
    // The new client was answered while all the slow ones were still connected.
    let cut_off_early = counts.closed.load(Ordering::SeqCst);
    assert_eq!(
        cut_off_early, 0,
        "opening {SLOW} connections took {opened:?}: slow clients were cut off before \
         the new one was answered; the test proves nothing on a machine this busy"
    );
    let slowest = waits.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(1),
        "with {SLOW} slow clients connected, GET /healthz took {waits:?}"
    );

    let lifetimes = closed(clients).await;
    assert_eq!(lifetimes.len(), SLOW);
    // The server's deadline starts after the client starts connecting and before its
    // connection is up (give or take when its task ran): the bounds are taken from the
    // side that makes them hold whatever the scheduling.
    let shortest = lifetimes
        .iter()
        .map(|l| l.closed - l.connecting)
        .min()
        .unwrap_or_default();
    let longest = lifetimes
        .iter()
        .map(|l| l.closed - l.connected)
        .max()
        .unwrap_or_default();
    let slowest_connect = lifetimes
        .iter()
        .map(|l| l.connected - l.connecting)
        .max()
        .unwrap_or_default();
    let all_closed = lifetimes
        .iter()
        .map(|l| l.closed)
        .max()
        .map(|last| last - opening)
        .unwrap_or_default();
    println!(
        "{SLOW} slow clients connected and trickling in {opened:?} (slowest connect \
         {slowest_connect:?}); GET /healthz answered in {waits:?}; each cut off {shortest:?} \
         to {longest:?} after it connected (deadline {HEADER_DEADLINE:?}); all closed \
         {all_closed:?} after the first started connecting"
    );
    // Cut off by the deadline: not before it (trickling does not count as idling
    // either way), and not long after.
    assert!(
        shortest + Duration::from_millis(50) >= HEADER_DEADLINE,
        "a slow client was cut off {shortest:?} after it connected, before the deadline"
    );
    assert!(
        longest <= HEADER_DEADLINE + MARGIN,
        "a slow client was left connected for {longest:?} (deadline {HEADER_DEADLINE:?})"
    );
    // And the server is still serving.
    assert_eq!(healthz(&client, &server).await.0, 200);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_a_new_client_waits_for_a_slot_and_is_answered() {
    const CAP: usize = 4;
    let dir = crate::support::data_dir();
    let deadline = format!("{}ms", HEADER_DEADLINE.as_millis());
    let cap = CAP.to_string();
    let server = Server::start_with(
        dir.path(),
        &[
            "--header-read-timeout",
            &deadline,
            "--max-connections",
            &cap,
        ],
    );
    let (clients, _) = start_trickling(&server, CAP).await;
    // The slow clients connected first and fill the cap (the listen backlog is served in
    // order): the new client is neither refused nor served before a slot frees.
    let asked = Instant::now();
    let (status, waited) = healthz(&new_connection_each_time(), &server).await;
    let answered = asked + waited;
    assert_eq!(status, 200, "the new client was refused");
    let lifetimes = closed(clients).await;
    let first_slot = lifetimes
        .iter()
        .map(|l| l.connecting + HEADER_DEADLINE)
        .min()
        .expect("slow clients");
    println!(
        "at the cap of {CAP}: GET /healthz answered after {waited:?} (header deadline \
         {HEADER_DEADLINE:?})"
    );
    assert!(
        answered + Duration::from_millis(50) >= first_slot,
        "the new client was served {:?} before a slot could free",
        first_slot - answered
    );
    assert!(
        waited <= HEADER_DEADLINE + MARGIN,
        "the new client waited {waited:?} for a slot"
    );
    let logs = server.stop();
    assert!(logs.contains("at the --max-connections cap"), "{logs}");
}

/// The answer read from `stream` until the server closes it: status, lower-cased head,
/// JSON body.
fn parse_answer(bytes: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, head.to_ascii_lowercase(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_answered_408_at_the_body_deadline() {
    const BODY_DEADLINE: Duration = Duration::from_secs(2);
    let dir = crate::support::data_dir();
    let deadline = format!("{}ms", BODY_DEADLINE.as_millis());
    let server = Server::start_with(dir.path(), &["--body-read-timeout", &deadline]);
    let key = server.api_key("sel_slow_body");

    // The same request with its body sent at once is accepted: the 408 below is the
    // trickling's.
    let body = r#"{"type": "inquiry.created", "data": {"n": 1}}"#;
    let (status, _, text) = server
        .raw(
            reqwest::Method::POST,
            "/v1/events",
            &key,
            Some("application/json"),
            body,
        )
        .await;
    assert_eq!(status, 202, "{text}");

    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let padded = format!("{body:<100}");
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        padded.len()
    );
    // The server's deadline starts once it has read the head: after this instant.
    let sent_head = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sent = 0;
    let mut answer = Vec::new();
    let mut first_byte = None;
    let mut buf = [0u8; 4096];
    let eof = tokio::time::timeout(HANG, async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return Instant::now(),
                    Ok(n) => {
                        first_byte.get_or_insert_with(Instant::now);
                        answer.extend_from_slice(&buf[..n]);
                    }
                },
                _ = tick.tick(), if first_byte.is_none() => {
                    // One byte a second: the 100 would take 100 s.
                    let _ = stream.write_all(&padded.as_bytes()[sent..=sent]).await;
                    sent += 1;
                }
            }
        }
    })
    .await
    .expect("the server closed the connection");

    let answered = first_byte.expect("an answer") - sent_head;
    println!(
        "a body trickling a byte a second was answered after {answered:?} ({sent} bytes \
         sent; deadline {BODY_DEADLINE:?}), the connection closed {:?} later",
        eof - (sent_head + answered)
    );
    let (status, head, body) = parse_answer(&answer);
    assert_eq!(status, 408, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not arrive")),
        "{body}"
    );
    assert!(
        answered + Duration::from_millis(50) >= BODY_DEADLINE,
        "answered {answered:?} after the head, before the deadline"
    );
    assert!(
        answered <= BODY_DEADLINE + MARGIN,
        "answered {answered:?} after the head (deadline {BODY_DEADLINE:?})"
    );
    assert!(
        eof - (sent_head + answered) <= MARGIN,
        "the connection stayed open after the 408"
    );
    server.stop();
}
