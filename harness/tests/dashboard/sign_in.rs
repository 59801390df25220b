//! Signing in and out: the token form, the one-time link `serve --dev-sign-in` prints,
//! the cookie's flags, and the headers every page carries.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use reqwest::Method;

use crate::client::Browser;
use crate::support::{cli, Server, BIN};

#[tokio::test]
async fn token_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let mut browser = Browser::new(&server.url);

    // Signed out, a page sends you to sign in.
    let page = browser.get("/dashboard").await;
    page.expect(303);
    assert_eq!(page.location(), "/dashboard/sign-in");
    let page = browser.get("/dashboard/sign-in").await;
    page.expect(200);
    assert!(
        page.body.contains("menon-harness token --seller"),
        "{}",
        page.body
    );
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");

    // A token that is not one is refused, with what to do.
    let page = browser
        .post("/dashboard/sign-in", &[("token", "not-a-token")])
        .await;
    page.expect(401);
    assert!(
        page.testid("sign-in-error").unwrap().contains("not a JWT"),
        "{}",
        page.body
    );
    let page = browser.post("/dashboard/sign-in", &[("token", " ")]).await;
    page.expect(400);

    let token = server.token("sel_cookie");
    let page = browser
        .post("/dashboard/sign-in", &[("token", &token)])
        .await;
    page.expect(303);
    assert_eq!(page.location(), "/dashboard");
    let cookie = page.header("set-cookie").to_owned();
    assert!(cookie.starts_with("menon_dashboard="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/dashboard", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert!(!cookie.contains(&token), "the cookie must not be the token");
    browser.keep_cookie(&page);

    let page = browser.get("/dashboard").await;
    page.expect(200);
    assert!(page.body.contains("sel_cookie"));
    assert!(page
        .testid("empty-webhooks")
        .unwrap()
        .contains("No webhooks yet"));
    for (name, expected) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(page.header(name), expected, "{name}");
    }
    let csp = page.header("content-security-policy");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    // Signed in, the sign-in page sends you on.
    assert_eq!(
        browser.get("/dashboard/sign-in").await.location(),
        "/dashboard"
    );

    // Signing out clears the cookie and ends the session on the server too.
    let old_cookie = browser.cookie.clone();
    let csrf = page.csrf();
    let out = browser
        .post("/dashboard/sign-out", &[("csrf", &csrf)])
        .await;
    out.expect(303);
    assert_eq!(out.location(), "/dashboard/sign-in?notice=signed-out");
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    browser.keep_cookie(&out);
    assert_eq!(browser.cookie, None);
    let page = browser.get("/dashboard/sign-in?notice=signed-out").await;
    assert!(page.body.contains("You have signed out."));
    browser.cookie = old_cookie;
    assert_eq!(
        browser.get("/dashboard").await.location(),
        "/dashboard/sign-in"
    );
    let page = browser
        .post("/dashboard/sign-out", &[("csrf", &csrf)])
        .await;
    page.expect(401);
    assert!(page.body.contains("Sign in again"));
}

#[tokio::test]
async fn a_revoked_token_ends_its_sessions_and_cannot_sign_in_again() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_revoke");
    let mut revoked = Browser::new(&server.url);
    let page = revoked
        .post("/dashboard/sign-in", &[("token", &token)])
        .await;
    page.expect(303);
    revoked.keep_cookie(&page);
    let kept = Browser::signed_in(&server, "sel_revoke").await;
    revoked.get("/dashboard").await.expect(200);
    let csrf = kept.get("/dashboard").await.expect(200).csrf();

    cli(&[
        "token",
        "revoke",
        &token,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);

    // The session the revoked token started is over on its next request; the one another
    // token of the same seller started is not.
    let page = revoked.get("/dashboard").await;
    page.expect(303);
    assert_eq!(page.location(), "/dashboard/sign-in");
    let page = kept.get("/dashboard").await;
    page.expect(200);
    assert!(page.body.contains("sel_revoke"));
    // Its forms still pass the CSRF check (the same session token as before).
    let page = kept.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    page.expect(303);

    // The revoked token cannot start a session again, and the page says why.
    let page = Browser::new(&server.url)
        .post("/dashboard/sign-in", &[("token", &token)])
        .await;
    page.expect(401);
    let error = page.testid("sign-in-error").unwrap();
    assert!(error.contains("revoked"), "{error}");
    assert!(page.header("set-cookie").is_empty());
}

/// `serve` with `--dev-sign-in`, reading the first two lines it prints and logging at
/// `info` (as a server is run) to a buffer.
struct DevServer {
    child: Child,
    url: String,
    second_line: String,
    logs: Option<JoinHandle<String>>,
}

impl DevServer {
    fn start(dir: &std::path::Path, flags: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(flags)
            .env_remove("MENON_DEV_SIGN_IN")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let mut stderr = child.stderr.take().unwrap();
        let logs = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let second_line = lines.next().unwrap().unwrap();
        let url = first.rsplit(' ').next().unwrap().to_owned();
        assert!(
            first.starts_with("menon-harness listening on http://"),
            "{first}"
        );
        Self {
            child,
            url,
            second_line,
            logs: Some(logs),
        }
    }

    /// Stops the server and returns what it logged.
    fn logs(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs.take().unwrap().join().unwrap()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn dev_sign_in_link_works_once_and_is_no_bearer_token() {
    let dir = crate::support::data_dir();
    let server = DevServer::start(dir.path(), &["--dev-sign-in"]);
    assert!(
        server.second_line.contains("sel_demo") && server.second_line.contains("development only"),
        "{}",
        server.second_line
    );
    let link = server.second_line.rsplit(' ').next().unwrap().to_owned();
    let prefix = format!("{}/dashboard/sign-in?token=", server.url);
    assert!(link.starts_with(&prefix), "{link}");
    let path = link.strip_prefix(&server.url).unwrap();
    let token = link.strip_prefix(&prefix).unwrap();

    // From the address bar it signs in, once.
    let mut browser = Browser::new(&server.url);
    let page = browser.get_with(path, &[("sec-fetch-site", "none")]).await;
    page.expect(303);
    assert_eq!(page.location(), "/dashboard");
    browser.keep_cookie(&page);
    let list = browser.get("/dashboard").await;
    list.expect(200);
    assert!(list.body.contains("sel_demo"));
    // Opening it again in the same browser just goes on to the dashboard...
    assert_eq!(browser.get(path).await.location(), "/dashboard");
    // ...but in another browser it has been used.
    let page = Browser::new(&server.url).get(path).await;
    page.expect(401);
    assert!(page.body.contains("used already"), "{}", page.body);

    // Neither the link's token nor a garbled one is a bearer token, or a link.
    let client = reqwest::Client::new();
    let api = client
        .request(Method::GET, format!("{}/api/seller/webhooks", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let page = Browser::new(&server.url)
        .get("/dashboard/sign-in?token=eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
        .await;
    page.expect(401);
    assert!(page.body.contains("not valid on this server"));
    // A link without its token asks for the whole link.
    let page = Browser::new(&server.url)
        .get("/dashboard/sign-in?token=")
        .await;
    page.expect(400);
    let error = page.testid("sign-in-error").unwrap();
    assert!(
        error.contains("has no token") && error.contains("whole link"),
        "{error}"
    );
}

#[tokio::test]
async fn a_link_is_spent_by_a_signed_in_browser_and_never_logged() {
    let dir = crate::support::data_dir();
    let server = DevServer::start(dir.path(), &["--dev-sign-in"]);
    let link = server.second_line.rsplit(' ').next().unwrap().to_owned();
    let path = link.strip_prefix(&server.url).unwrap().to_owned();
    let token = path.rsplit('=').next().unwrap().to_owned();
    assert!(token.len() > 40, "{token}");

    // A browser signed in as the link's seller (with a pasted token) opens the link: it
    // goes on to the dashboard, and the link is spent all the same.
    let seller_token = cli(&[
        "token",
        "--seller",
        "sel_demo",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let mut signed_in = Browser::new(&server.url);
    let page = signed_in
        .post("/dashboard/sign-in", &[("token", &seller_token)])
        .await;
    page.expect(303);
    signed_in.keep_cookie(&page);
    let page = signed_in
        .get_with(&path, &[("sec-fetch-site", "none")])
        .await;
    page.expect(303);
    assert_eq!(page.location(), "/dashboard");
    assert!(page.header("set-cookie").is_empty(), "no second session");
    let page = Browser::new(&server.url)
        .get_with(&path, &[("sec-fetch-site", "none")])
        .await;
    page.expect(401);
    assert!(page.body.contains("used already"), "{}", page.body);

    // The request log names the path, never the query string with the token.
    let logs = server.logs();
    assert!(
        logs.contains("finished processing request") && logs.contains("/dashboard/sign-in"),
        "{logs}"
    );
    assert!(
        !logs.contains(&token),
        "the sign-in token was logged:\n{logs}"
    );
    assert!(
        !logs.contains("token="),
        "a query string was logged:\n{logs}"
    );
}

#[tokio::test]
async fn dev_sign_in_names_its_seller_refuses_other_sites_and_is_off_by_default() {
    let dir = crate::support::data_dir();
    let server = DevServer::start(dir.path(), &["--dev-sign-in", "sel_other"]);
    assert!(
        server.second_line.contains("for sel_other"),
        "{}",
        server.second_line
    );
    // Opened from another site's page (login CSRF), a link is refused, and spent.
    let link = server.second_line.rsplit(' ').next().unwrap();
    let path = link.strip_prefix(&server.url).unwrap();
    let browser = Browser::new(&server.url);
    let page = browser
        .get_with(path, &[("sec-fetch-site", "cross-site")])
        .await;
    page.expect(403);
    assert!(
        page.body.contains("opened from another site"),
        "{}",
        page.body
    );
    assert!(page.header("set-cookie").is_empty());
    let page = browser.get_with(path, &[("sec-fetch-site", "none")]).await;
    page.expect(401);
    assert!(page.body.contains("used already"), "{}", page.body);
    drop(server);
    let dir = crate::support::data_dir();
    let server = DevServer::start(dir.path(), &[]);
    assert!(
        server.second_line.starts_with("dashboard: http://")
            && !server.second_line.contains("token="),
        "{}",
        server.second_line
    );
}

#[tokio::test]
async fn assets_and_unknown_pages() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let browser = Browser::new(&server.url);
    let css = browser.get("/dashboard/assets/app.css").await;
    css.expect(200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.body.contains("--accent"));
    let js = browser.get("/dashboard/assets/app.js").await;
    js.expect(200);
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    let missing = browser.get("/dashboard/assets/other.js").await;
    missing.expect(404);
    assert!(missing.header("content-type").starts_with("text/html"));
    let missing = browser.get("/dashboard/no/such/page").await;
    missing.expect(404);
    assert!(missing.body.contains("Not found"));
}
