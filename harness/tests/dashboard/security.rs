//! CSRF refused (another origin, another site, a missing, wrong or foreign form token),
//! another seller's webhook not found, and the secret shown once, never in a URL or log.

use reqwest::Method;

use crate::client::Browser;
use crate::support::receiver::Receiver;
use crate::support::Server;

/// The number of webhooks the API lists for `token`.
async fn count(server: &Server, token: &str) -> usize {
    let (status, body, text) = server
        .call(Method::GET, "/api/seller/webhooks", Some(token), None)
        .await;
    assert_eq!(status, 200, "{text}");
    body["data"]["webhooks"].as_array().unwrap().len()
}

fn form(csrf: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("url", "http://127.0.0.1:9/hook"),
        ("events", "listing.created"),
        ("csrf", csrf),
    ]
}

#[tokio::test]
async fn csrf_is_refused_by_origin_and_by_token() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let browser = Browser::signed_in(&server, "sel_csrf").await;
    let other = Browser::signed_in(&server, "sel_csrf").await;
    let token = server.token("sel_csrf");
    let csrf = browser.get("/dashboard/webhooks/new").await.csrf();
    let foreign = other.get("/dashboard/webhooks/new").await.csrf();
    assert_ne!(csrf, foreign, "each session has its own form token");
    let (csrf, foreign) = (csrf.as_str(), foreign.as_str());
    let https_origin = server.url.replacen("http://", "https://", 1);

    for (case, headers, fields, why) in [
        (
            "another origin, right token",
            vec![
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            form(csrf),
            "another site",
        ),
        (
            "another origin named, no fetch metadata",
            vec![("origin", "http://evil.example")],
            form(csrf),
            "another origin",
        ),
        (
            "an opaque origin",
            vec![("origin", "null")],
            form(csrf),
            "another origin",
        ),
        (
            "this host and port, another scheme",
            vec![("origin", https_origin.as_str())],
            form(csrf),
            "another origin",
        ),
        (
            "same-site, not same-origin",
            vec![("sec-fetch-site", "same-site")],
            form(csrf),
            "another site",
        ),
        (
            "no token",
            vec![],
            vec![
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "listing.created"),
            ],
            "security token",
        ),
        (
            "a wrong token",
            vec![],
            form("not-the-token"),
            "security token",
        ),
        (
            "another session's token",
            vec![],
            form(foreign),
            "security token",
        ),
    ] {
        let page = browser
            .post_with("/dashboard/webhooks", &fields, &headers)
            .await;
        assert_eq!(page.status, 403, "{case}: {}", page.body);
        assert!(page.body.contains(why), "{case}: {}", page.body);
        assert!(page.body.contains("Nothing was changed"), "{case}");
    }
    assert_eq!(
        count(&server, &token).await,
        0,
        "a refused form changed something"
    );

    // The sign-in form is guarded by origin too (login CSRF), and with no session token
    // to check, a sign-in that does not say where it comes from is refused as well.
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("origin", https_origin.as_str())],
        vec![("sec-fetch-site", "cross-site")],
        vec![],
    ] {
        let page = Browser::new(&server.url)
            .post_with("/dashboard/sign-in", &[("token", &token)], &headers)
            .await;
        assert_eq!(page.status, 403, "{headers:?}: {}", page.body);
        assert!(page.header("set-cookie").is_empty(), "{headers:?}");
    }
    let origin = server.url.clone();
    for headers in [
        vec![("origin", origin.as_str())],
        vec![("sec-fetch-site", "same-origin")],
    ] {
        let page = Browser::new(&server.url)
            .post_with("/dashboard/sign-in", &[("token", &token)], &headers)
            .await;
        assert_eq!(page.status, 303, "{headers:?}: {}", page.body);
    }

    // A form from the page itself goes through; so does a client sending no browser
    // headers at all, as long as it has the session's token.
    browser
        .post("/dashboard/webhooks", &form(csrf))
        .await
        .expect(201);
    browser
        .post_with("/dashboard/webhooks", &form(csrf), &[])
        .await
        .expect(201);
    assert_eq!(count(&server, &token).await, 2);

    // Only form bodies are taken.
    let page = browser
        .post_with(
            "/dashboard/webhooks",
            &form(csrf),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
}

#[tokio::test]
async fn a_wrong_method_gets_a_dashboard_page() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_method");
    let (id, _) = crate::create_webhook(&server, &token).await;
    let browser = Browser::signed_in(&server, "sel_method").await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (Method::GET, format!("/dashboard/webhooks/{id}/status")),
        (
            Method::GET,
            format!("/dashboard/webhooks/{id}/rotate-secret"),
        ),
        (Method::PUT, format!("/dashboard/webhooks/{id}")),
        (Method::DELETE, "/dashboard/sign-in".to_owned()),
    ] {
        let response = client
            .request(method.clone(), format!("{}{path}", server.url))
            .header("cookie", browser.cookie.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(
            header("content-type"),
            "text/html; charset=utf-8",
            "{method} {path}"
        );
        assert_eq!(header("cache-control"), "no-store");
        assert_eq!(header("x-frame-options"), "DENY");
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(!header("allow").is_empty(), "{method} {path}: no Allow");
        let body = response.text().await.unwrap();
        assert!(body.contains("Error 405"), "{body}");
    }
    // The API keeps its JSON answer.
    let (status, body, _) = server
        .call(Method::PUT, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_eq!(status, 405);
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn another_sellers_webhook_is_not_found() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let owner = server.token("sel_owner");
    let (id, _) = crate::create_webhook(&server, &owner).await;
    let (status, body, _) = server
        .call(
            Method::POST,
            &format!("/api/seller/webhooks/{id}/test"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let log_id = body["data"]["delivery"]["id"].as_str().unwrap().to_owned();

    let intruder = Browser::signed_in(&server, "sel_intruder").await;
    let list = intruder.get("/dashboard").await;
    assert!(!list.body.contains(&id));
    let csrf = list.csrf();
    let base = format!("/dashboard/webhooks/{id}");
    for path in ["", "/edit", "/delete", "/test"] {
        let page = intruder.get(&format!("{base}{path}")).await;
        assert_eq!(page.status, 404, "GET {path}: {}", page.body);
        assert!(page.body.contains("no such webhook"), "{}", page.body);
    }
    for (path, fields) in [
        (
            "/edit",
            vec![("url", "http://127.0.0.1:9/x"), ("events", "user.created")],
        ),
        ("/status", vec![("status", "disabled")]),
        ("/rotate-secret", vec![]),
        ("/delete", vec![]),
        ("/test", vec![("event_type", "listing.created")]),
        (&format!("/logs/{log_id}/retry"), vec![]),
    ] {
        let mut fields = fields.clone();
        fields.push(("csrf", &csrf));
        let page = intruder.post(&format!("{base}{path}"), &fields).await;
        assert_eq!(page.status, 404, "POST {path}: {}", page.body);
    }
    // Untouched.
    let (status, body, _) = server
        .call(
            Method::GET,
            &format!("/api/seller/webhooks/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["webhook"]["status"], "active");
    assert_eq!(body["data"]["webhook"]["url"], crate::RECEIVER_URL);
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_in_a_url_or_log() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let receiver = Receiver::start().await;
    let browser = Browser::signed_in(&server, "sel_secret").await;
    let csrf = browser.get("/dashboard/webhooks/new").await.csrf();
    let page = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", &receiver.url),
                ("events", "listing.created"),
                ("events", "payment.succeeded"),
                ("csrf", &csrf),
            ],
        )
        .await;
    page.expect(201);
    assert_eq!(page.location(), "", "the secret page is the POST's answer");
    assert_eq!(page.header("cache-control"), "no-store");
    let secret = page.value_of("secret").expect("secret field");
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 38,
        "{secret}"
    );
    let warning = page.testid("secret-warning").unwrap();
    assert!(warning.contains("will not be shown again"), "{warning}");
    let webhook_page = page.body.split("data-replace-url=\"").nth(1).unwrap();
    let href = webhook_page.split('"').next().unwrap().to_owned();
    assert!(href.starts_with("/dashboard/webhooks/wh_"), "{href}");

    // Every later page shows the webhook, not its secret.
    for path in [
        "/dashboard".to_owned(),
        href.clone(),
        format!("{href}/edit"),
        format!("{href}/test"),
        format!("{href}/delete"),
    ] {
        let page = browser.get(&path).await;
        page.expect(200);
        assert!(!page.body.contains(&secret), "{path} shows the secret");
    }

    // It signs what the webhook receives.
    receiver.verify_with(&secret);
    let csrf = browser.get(&href).await.csrf();
    let sent = browser
        .post(
            &format!("{href}/test"),
            &[("event_type", "payment.succeeded"), ("csrf", &csrf)],
        )
        .await;
    sent.expect(200);
    assert_eq!(sent.testid("result-status").unwrap(), "Delivered");
    receiver.assert_all_verified();

    // Rotation shows the new one, once, and the old one keeps signing v2.
    let rotated = browser
        .post(&format!("{href}/rotate-secret"), &[("csrf", &csrf)])
        .await;
    rotated.expect(200);
    let new_secret = rotated.value_of("secret").unwrap();
    assert_ne!(new_secret, secret);
    assert!(rotated.body.contains("keeps signing"));
    assert!(!browser.get(&href).await.body.contains(&new_secret));

    let logs = server.stop();
    assert!(!logs.contains(&secret), "the secret was logged");
    assert!(!logs.contains(&new_secret), "the rotated secret was logged");
    assert!(logs.contains("dashboard session started"));
}
