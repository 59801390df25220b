//! The command line: exit status 2 when the grader cannot run, `--list`, `--dry-run`,
//! `--cases`, and `--ca-cert` for https receivers.

use std::process::Command;
use std::time::Duration;

use menon_harness_common::delivery::SigningScheme;

use crate::support::{
    grade, grade_receiver, grader_key, receiver_key, start, Defect, CASES, HANG, SECRET,
    STANDARD_CASES, V1_SECRET,
};

#[tokio::test(flavor = "multi_thread")]
async fn exit_2_when_the_grader_cannot_run() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--url".into(),
                format!("http://127.0.0.1:{port}/webhooks/menon"),
                "--secret".into(),
                SECRET.into(),
            ],
            "unreachable",
        ),
        (
            vec!["--url".into(), "http://127.0.0.1:1/".into()],
            "--secret",
        ),
        (vec!["--secret".into(), SECRET.into()], "--url"),
        (
            vec![
                "--url".into(),
                "ftp://x/".into(),
                "--secret".into(),
                SECRET.into(),
            ],
            "http://",
        ),
        (
            vec![
                "--cases".into(),
                "signatur".into(),
                "--".into(),
                "true".into(),
            ],
            "selects no case",
        ),
        (
            vec![
                "--".into(),
                "sh".into(),
                "-c".into(),
                "echo booting; exit 3".into(),
            ],
            "booting",
        ),
        (vec!["--deadline".into(), "soon".into()], "duration"),
        (vec!["--deadline".into(), "0s".into()], "greater than zero"),
        (
            vec![
                "--dry-run".into(),
                "--url".into(),
                "http://127.0.0.1:1/".into(),
                "--json".into(),
                "/tmp/x.json".into(),
            ],
            "writes no report",
        ),
        (
            // Refused before anything is sent, not after the whole run.
            vec![
                "--html".into(),
                "/proc/no-such-dir/r.html".into(),
                "--".into(),
                "sleep".into(),
                "300".into(),
            ],
            "--html /proc/no-such-dir/r.html",
        ),
        (
            vec![
                "--ca-cert".into(),
                "/dev/null".into(),
                "--url".into(),
                "https://127.0.0.1:1/".into(),
                "--secret".into(),
                SECRET.into(),
            ],
            "no PEM certificate",
        ),
    ];
    for (args, says) in cases {
        let out = grade(args.clone()).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_cases_and_dry_run_send_nothing() {
    let out = grade(vec!["--list".into()]).await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("signature/tampered-body"));
    assert!(text.contains(&format!("{CASES} cases")));

    let addr = start(Defect::None).await;
    let out = grade(vec![
        "--dry-run".into(),
        "--url".into(),
        format!("http://{addr}/webhooks/menon"),
        "--cases".into(),
        "signature/malformed".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("signature/malformed/md5"), "{text}");
    assert!(text.contains("X-Menon-Signature: md5="), "{text}");
    // Six malformed cases, and the control delivery sent before the refusals.
    assert!(
        text.contains("6 cases, 7 requests built, none sent"),
        "{text}"
    );
}

/// `--scheme` with a key of another scheme (or a public key, which cannot sign) is exit 2
/// before anything is sent, and the message says what to pass.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_of_another_scheme_says_what_to_pass() {
    let whsk = grader_key(SigningScheme::StandardV1a);
    let whpk = receiver_key(SigningScheme::StandardV1a);
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "standard-v1a",
            V1_SECRET,
            &["signing key", "--secret whsk_", "standard-v1"],
        ),
        (
            "standard-v1a",
            &whpk,
            &["public key (whpk_)", "--secret whsk_"],
        ),
        (
            "standard-v1",
            &whsk,
            &["(whsk_)", "--scheme standard-v1a", "whsec_"],
        ),
        (
            "standard-v1",
            &whpk,
            &["(whpk_)", "--scheme standard-v1a", "whsec_"],
        ),
        (
            "standard-v1",
            "whsec_not*base64",
            &["not a Standard Webhooks secret", "whsec_"],
        ),
        ("menon", &whsk, &["--scheme standard-v1a --secret whsk_"]),
    ];
    for (scheme, secret, says) in cases {
        // Nothing listens at the URL: the secret is refused before it is tried.
        let out = grade(vec![
            "--scheme".into(),
            scheme.into(),
            "--secret".into(),
            secret.into(),
            "--url".into(),
            "http://127.0.0.1:1/webhooks/menon".into(),
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{scheme} {secret}: {stderr}");
        assert!(!stderr.contains("unreachable"), "{scheme}: {stderr}");
        for text in says {
            assert!(
                stderr.contains(text),
                "{scheme} {secret}: {text:?} in {stderr}"
            );
        }
    }
    let out = grade(vec!["--scheme".into(), "standard-v2".into()]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("standard-v1a"), "{stderr}");
}

/// `--list --scheme standard-v1` lists the Standard Webhooks run: the tier of each case,
/// the standard-only cases, none of the Menon header cases.
#[tokio::test(flavor = "multi_thread")]
async fn list_shows_each_schemes_cases_and_tiers() {
    let tier_of = |text: &str, id: &str| -> String {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{id} not listed:\n{text}"))
            .to_owned()
    };
    let menon = grade(vec!["--list".into()]).await;
    let menon = String::from_utf8_lossy(&menon.stdout).into_owned();
    assert_eq!(tier_of(&menon, "signature/stale-timestamp"), "should");
    assert_eq!(tier_of(&menon, "signature/malformed/md5"), "must");
    assert!(!menon.contains("signature/forged"), "{menon}");
    for scheme in ["standard-v1", "standard-v1a"] {
        let out = grade(vec!["--list".into(), "--scheme".into(), scheme.into()]).await;
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("{STANDARD_CASES} cases")), "{text}");
        assert!(!text.contains("signature/malformed"), "{text}");
        for id in [
            "signature/rotation/good-first",
            "signature/rotation/good-second",
            "signature/forged",
            "signature/wrong-id",
            "signature/stale-timestamp",
        ] {
            assert_eq!(tier_of(&text, id), "must", "{scheme} {id}");
        }
    }
    // A Menon-only case selected for a standard run is a typo-like mistake: exit 2.
    let out = grade(vec![
        "--scheme".into(),
        "standard-v1".into(),
        "--cases".into(),
        "signature/malformed".into(),
        "--dry-run".into(),
        "--url".into(),
        "http://127.0.0.1:1/".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--list --scheme standard-v1"), "{stderr}");
}

/// A dry run of a standard-v1a rotation without --secret: the grader makes the key, and
/// the rotation header carries two `v1a,` entries.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_builds_standard_deliveries_without_a_secret() {
    let out = grade(vec![
        "--dry-run".into(),
        "--scheme".into(),
        "standard-v1a".into(),
        "--url".into(),
        "http://127.0.0.1:1/webhooks/menon".into(),
        "--cases".into(),
        "signature/rotation/good-second".into(),
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let signature = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Webhook-Signature: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(signature.matches("v1a,").count(), 2, "{signature}");
    assert!(text.contains("Webhook-Id: evt_"), "{text}");
    assert!(!text.contains("X-Menon-Signature"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cases_selects_a_group_and_a_glob() {
    let addr = start(Defect::None).await;
    let (code, verdicts, _) =
        grade_receiver(addr, &["--cases", "robustness,*/valid/listing.*"]).await;
    assert_eq!(code, 0);
    let mut want: Vec<&str> = vec![
        "robustness/test-event",
        "robustness/unknown-event-type",
        "robustness/extra-fields",
        "robustness/out-of-order",
    ];
    want.extend([
        "signature/valid/listing.created",
        "signature/valid/listing.deleted",
        "signature/valid/listing.published",
        "signature/valid/listing.sold",
        "signature/valid/listing.unpublished",
        "signature/valid/listing.updated",
    ]);
    want.sort_unstable();
    assert_eq!(
        verdicts.keys().map(String::as_str).collect::<Vec<_>>(),
        want
    );
}

/// An https receiver with a self-signed certificate: a TLS failure is "could not run"
/// (exit 2) without --ca-cert, and graded normally with it.
#[tokio::test(flavor = "multi_thread")]
async fn https_receivers_with_a_local_ca() {
    // No skip: scripts/test installs openssl where it is missing.
    if let Err(e) = Command::new("openssl").arg("version").output() {
        panic!("cannot run `openssl version` ({e}): install it (`apt-get install openssl`)");
    }
    let dir = tempfile::tempdir().unwrap();
    // A local CA (as mkcert makes one) and a server certificate it signed.
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (ca, ca_key, cert, key) = (
        path("ca.pem"),
        path("ca.key"),
        path("cert.pem"),
        path("key.pem"),
    );
    std::fs::write(
        dir.path().join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    for args in [
        format!("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=menon-test-ca -keyout {ca_key} -out {ca}"),
        format!("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout {key} -out {}", path("leaf.csr")),
        format!(
            "x509 -req -in {} -CA {ca} -CAkey {ca_key} -CAcreateserial -days 1 -out {cert} -extfile {}",
            path("leaf.csr"),
            path("ext.cnf")
        ),
    ] {
        let made = Command::new("openssl")
            .args(args.split(' '))
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    }
    let server = dir.path().join("tls.py");
    std::fs::write(
        &server,
        format!(
            "import http.server, os, ssl\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_POST(self):\n\
             \x20       self.rfile.read(int(self.headers.get('content-length', 0)))\n\
             \x20       self.send_response(204)\n\
             \x20       self.end_headers()\n\
             \x20   def do_GET(self):\n\
             \x20       self.send_response(404)\n\
             \x20       self.end_headers()\n\
             \x20   def log_message(self, *args):\n\
             \x20       pass\n\
             s = http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H)\n\
             c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             c.load_cert_chain('{cert}', '{key}')\n\
             s.socket = c.wrap_socket(s.socket, server_side=True)\n\
             s.serve_forever()\n",
        ),
    )
    .unwrap();
    let run = |extra: Vec<String>| {
        let mut args: Vec<String> = vec![
            "--quiet".into(),
            "--cases".into(),
            "signature/valid/user.created".into(),
            "--url".into(),
        ];
        args.extend(extra);
        grade(args)
    };
    let https = |port: &str| format!("https://127.0.0.1:{port}/webhooks/menon");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let mut child = Command::new("python3")
        .arg(&server)
        .env("PORT", &port)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + HANG;
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let untrusted = run(vec![https(&port), "--secret".into(), SECRET.into()]).await;
    let trusted = run(vec![
        https(&port),
        "--secret".into(),
        SECRET.into(),
        "--ca-cert".into(),
        ca.clone(),
    ])
    .await;
    // Over https the header-case case sends the docs' spelling only (title case, through
    // the HTTP client), and says so.
    let report = dir.path().join("header-case.json");
    let spelled = grade(vec![
        "--quiet".into(),
        "--cases".into(),
        "signature/header-case".into(),
        "--url".into(),
        https(&port),
        "--secret".into(),
        SECRET.into(),
        "--ca-cert".into(),
        ca.clone(),
        "--json".into(),
        report.display().to_string(),
    ])
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(untrusted.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.contains("unreachable") && stderr.contains("certificate"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert_eq!(
        trusted.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(
        stdout.contains("PASS  signature/valid/user.created"),
        "{stdout}"
    );
    assert_eq!(spelled.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let header_case = &report["cases"][0];
    assert_eq!(header_case["requests"], 1, "{header_case}");
    assert_eq!(
        header_case["reason"],
        "accepted deliveries with the header names spelled as in the docs (X-Menon-Signature) \
         with 204; over https the grader writes title case only, not the mixed spelling: \
         grade over http to check that one too"
    );
}

/// The grader talks to the receiver directly: proxy variables in the environment (a CI
/// runner's, say) are not followed, or every case would grade the proxy instead.
#[tokio::test(flavor = "multi_thread")]
async fn deliveries_never_go_through_a_proxy_from_the_environment() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let dialled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&dialled);
    let accepting = tokio::spawn(async move {
        // Accepts and drops: a delivery sent here fails, and is counted.
        while let Ok((stream, _)) = proxy.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let addr = start(Defect::None).await;
    let out = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(crate::support::BIN);
        command.args([
            "grade",
            "--quiet",
            "--cases",
            "signature",
            "--url",
            &format!("http://{addr}/webhooks/menon"),
            "--secret",
            SECRET,
        ]);
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            command.env(name, &proxy_url);
        }
        command
            .env("NO_PROXY", "")
            .env("no_proxy", "")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    accepting.abort();
    assert_eq!(
        dialled.load(Ordering::SeqCst),
        0,
        "the grader dialled the proxy from the environment"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
