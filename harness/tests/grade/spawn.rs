//! `grade -- CMD`: the grader starts the receiver, finds it on IPv4 or IPv6 loopback,
//! and leaves no process of its group behind.

use std::process::Command;
use std::time::Duration;

use menon_webhooks::standard::StandardKey;

use crate::support::{ends, grade, now, until_catching_sigint, BIN, HANG};

/// `grade -- CMD` starts the receiver with PORT and MENON_WEBHOOK_SECRET, and stops it.
#[tokio::test(flavor = "multi_thread")]
async fn dash_dash_starts_and_stops_the_receiver() {
    // A receiver that acknowledges everything (so `signature/missing` fails): enough to
    // prove the wiring (environment, waiting, grading the started port, stopping).
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    let server = dir.path().join("receiver.py");
    std::fs::write(
        &server,
        "import http.server, os\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_POST(self):\n\
         \x20       self.rfile.read(int(self.headers.get('content-length', 0)))\n\
         \x20       self.send_response(204)\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *args):\n\
         \x20       pass\n\
         http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n",
    )
    .unwrap();
    let script = format!(
        "echo \"$PORT $MENON_WEBHOOK_SECRET\" > {env}; exec python3 {server}",
        env = env_file.display(),
        server = server.display()
    );
    let out = grade(vec![
        "--quiet".into(),
        "--cases".into(),
        "signature/missing,signature/valid/user.created".into(),
        "--".into(),
        "sh".into(),
        "-c".into(),
        script,
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("PASS  signature/valid/user.created"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  signature/missing"), "{stdout}");
    let env = std::fs::read_to_string(&env_file).unwrap();
    let (port, secret) = env.trim().split_once(' ').unwrap();
    assert!(port.parse::<u16>().is_ok(), "{env}");
    assert!(secret.starts_with("whsec_") && secret.len() >= 38, "{env}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{port}/webhooks/menon")),
        "{stdout}"
    );
    // Stopped: nothing listens on its port any more.
    let gone = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()));
    assert!(gone.is_err(), "the receiver was left running");
}

/// `grade -- CMD` stops the whole process group: also children a leader left behind
/// when it exited, and also when the grader is interrupted with Ctrl-C.
#[tokio::test(flavor = "multi_thread")]
async fn the_receivers_process_group_never_outlives_the_grader() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    // The leader starts a child that never listens, then exits: "exited before listening".
    let script = format!(
        "sleep 300 & echo $! > {pid}; sleep 0.3; exit 0",
        pid = pid_file.display()
    );
    let out = grade(vec![
        "--quiet".into(),
        "--".into(),
        "sh".into(),
        "-c".into(),
        script,
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(ends(pid).await, "the leader's child {pid} was left running");

    // Ctrl-C while the receiver is starting: the grader stops it and exits 2.
    let pid_file = dir.path().join("slow.pid");
    let mut child = Command::new(BIN)
        .args([
            "grade",
            "--quiet",
            "--startup-timeout",
            "60s",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!("echo $$ > {}; exec sleep 300", pid_file.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The receiver has started (it wrote its pid) and the grader handles Ctrl-C.
    let deadline = std::time::Instant::now() + HANG;
    let receiver: i32 = loop {
        let text = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    until_catching_sigint(child.id()).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    assert_eq!(output.0.code(), Some(2), "{}", output.1);
    assert!(output.1.contains("interrupted"), "{}", output.1);
    assert!(
        ends(receiver).await,
        "the receiver {receiver} was left running after Ctrl-C"
    );
}

/// A receiver that listens on [::1] only is found and graded there.
#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_on_ipv6_loopback_is_graded() {
    // No skip: a machine without [::1] fails here, saying what to turn on.
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        panic!(
            "cannot listen on [::1] ({e}): this test needs the IPv6 loopback; enable it with \
             `sysctl -w net.ipv6.conf.lo.disable_ipv6=0`"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let server = dir.path().join("receiver6.py");
    std::fs::write(
        &server,
        "import http.server, os, socket\n\
         class S(http.server.ThreadingHTTPServer):\n\
         \x20   address_family = socket.AF_INET6\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_POST(self):\n\
         \x20       self.rfile.read(int(self.headers.get('content-length', 0)))\n\
         \x20       self.send_response(204)\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *args):\n\
         \x20       pass\n\
         S(('::1', int(os.environ['PORT'])), H).serve_forever()\n",
    )
    .unwrap();
    let out = grade(vec![
        "--quiet".into(),
        "--cases".into(),
        "signature/valid/user.created".into(),
        "--".into(),
        "python3".into(),
        server.display().to_string(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("http://[::1]:"), "{stdout}");
}

/// `grade --scheme standard-v1|standard-v1a -- CMD` without --secret makes a key of the
/// scheme and hands the receiver what it must hold: the `whsec_` for v1, the `whpk_` public
/// key of the signing key for v1a. The delivery the receiver got verifies with it.
#[tokio::test(flavor = "multi_thread")]
async fn dash_dash_hands_a_standard_receiver_the_key_it_holds() {
    for (scheme, prefix) in [("standard-v1", "whsec_"), ("standard-v1a", "whpk_")] {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().display().to_string();
        let server = dir.path().join("receiver.py");
        std::fs::write(
            &server,
            format!(
                "import http.server, json, os\n\
                 out = '{out_dir}'\n\
                 with open(out + '/secret', 'w') as f: f.write(os.environ['MENON_WEBHOOK_SECRET'])\n\
                 class H(http.server.BaseHTTPRequestHandler):\n\
                 \x20   def do_POST(self):\n\
                 \x20       body = self.rfile.read(int(self.headers.get('content-length', 0)))\n\
                 \x20       with open(out + '/body', 'wb') as f: f.write(body)\n\
                 \x20       with open(out + '/headers', 'w') as f:\n\
                 \x20           json.dump({{k.lower(): v for k, v in self.headers.items()}}, f)\n\
                 \x20       self.send_response(204)\n\
                 \x20       self.end_headers()\n\
                 \x20   def log_message(self, *args):\n\
                 \x20       pass\n\
                 http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
            ),
        )
        .unwrap();
        let out = grade(vec![
            "--quiet".into(),
            "--scheme".into(),
            scheme.into(),
            "--cases".into(),
            "signature/valid/user.created".into(),
            "--".into(),
            "python3".into(),
            server.display().to_string(),
        ])
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scheme}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("(scheme {scheme})")), "{stdout}");
        let held = std::fs::read_to_string(dir.path().join("secret")).unwrap();
        assert!(held.starts_with(prefix), "{scheme}: {held}");
        let body = std::fs::read(dir.path().join("body")).unwrap();
        let headers: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("headers")).unwrap()).unwrap();
        let header = |name: &str| headers[name].as_str().unwrap_or_default();
        let verified = StandardKey::parse(&held).unwrap().verify(
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            now(),
        );
        assert!(verified.is_ok(), "{scheme}: {verified:?}");
    }
}
