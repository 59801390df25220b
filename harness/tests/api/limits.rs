//! Hostile tenants (issue 17): lists come a page at a time, a seller publishing past its
//! rate is answered 429 with `Retry-After`, a seller's webhooks are capped, and settled
//! events are forgotten after the retention window; each on both API families.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{assert_refused, Server};

/// Bounds a wait for something that takes moments: only a hang gets there.
const HANG: Duration = Duration::from_secs(30);

/// Every id of a listing at `path` (`?limit=` appended), page after page, following
/// `next_cursor`; also the number of pages.
async fn walk(
    server: &Server,
    path: &str,
    bearer: &str,
    key: &str,
    limit: u32,
) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut url = format!("{path}?limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, body, text) = server.call(Method::GET, &url, Some(bearer), None).await;
        assert_eq!(status, 200, "{text}");
        let items = body["data"][key].as_array().unwrap();
        assert!(items.len() <= usize::try_from(limit).unwrap(), "{text}");
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        pages += 1;
        assert!(pages <= 100, "a listing that never ends: {text}");
        match body["data"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, pages),
        }
    }
}

async fn publish(server: &Server, path: &str, bearer: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .bearer_auth(bearer)
        .json(&json!({"type": "listing.created", "data": {"listing_id": "lst_1"}}))
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn webhooks_and_events_are_listed_a_page_at_a_time_on_both_families() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let (token, key) = (server.token("sel_pages"), server.api_key("sel_pages"));
    let mut created = Vec::new();
    for n in 0..7 {
        let body = server
            .create_webhook(
                &token,
                &json!({"url": format!("https://example.com/hook/{n}"), "events": ["user.created"]}),
            )
            .await;
        created.push(body["data"]["webhook"]["id"].as_str().unwrap().to_owned());
    }
    for (path, bearer) in [("/api/seller/webhooks", &token), ("/v1/webhooks", &key)] {
        // Oldest first, every webhook once, 3 to a page.
        assert_eq!(
            walk(&server, path, bearer, "webhooks", 3).await,
            (created.clone(), 3)
        );
        assert_eq!(
            walk(&server, path, bearer, "webhooks", 100).await,
            (created.clone(), 1)
        );
        // Without a limit: 20 to a page, so all 7 and no cursor.
        let (status, body, text) = server.call(Method::GET, path, Some(bearer), None).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["data"]["webhooks"].as_array().unwrap().len(), 7);
        assert_eq!(body["data"]["next_cursor"], Value::Null);
        for bad in ["?limit=0", "?limit=101", "?limit=ten", "?page=2"] {
            let answer = server
                .call(Method::GET, &format!("{path}{bad}"), Some(bearer), None)
                .await;
            assert_eq!(answer.0, 400, "{bad}: {}", answer.2);
            assert_eq!(answer.1["success"], false, "{bad}");
        }
        assert_refused(
            &server
                .call(
                    Method::GET,
                    &format!("{path}?limit=101"),
                    Some(bearer),
                    None,
                )
                .await,
            400,
            "invalid_query",
        );
    }

    // Events, newest first, on both families; each family sees the other's publishes.
    let mut published = Vec::new();
    for n in 0..5 {
        let (path, bearer) = if n % 2 == 0 {
            ("/v1/events", &key)
        } else {
            ("/api/seller/events", &token)
        };
        let response = publish(&server, path, bearer).await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        published.push(body["data"]["event"]["id"].as_str().unwrap().to_owned());
    }
    published.reverse();
    for (path, bearer) in [("/v1/events", &key), ("/api/seller/events", &token)] {
        let (ids, pages) = walk(&server, path, bearer, "events", 2).await;
        assert_eq!((ids, pages), (published.clone(), 3), "{path}");
    }
    let (status, body, _) = server
        .call(Method::GET, "/v1/events?limit=1", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let listed = &body["data"]["events"][0];
    assert_eq!(listed["type"], "listing.created");
    assert_eq!(listed["test"], false);
    assert!(listed["created_at"].as_str().unwrap().ends_with('Z'));

    // Another seller's cursor is no way in: an empty page, not this seller's list.
    let other = server.api_key("sel_other");
    for (path, cursor) in [("/v1/webhooks", &created[0]), ("/v1/events", &published[0])] {
        let (status, body, text) = server
            .call(
                Method::GET,
                &format!("{path}?cursor={cursor}"),
                Some(&other),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let key = if path.ends_with("events") {
            "events"
        } else {
            "webhooks"
        };
        assert_eq!(body["data"][key], json!([]), "{text}");
    }
}

#[tokio::test]
async fn publishing_past_the_rate_is_answered_429_with_retry_after_on_both_families() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &[
            "--allow-target=loopback",
            "--publish-rate",
            "1",
            "--publish-burst",
            "3",
        ],
    );
    let (token, key) = (server.token("sel_seller"), server.api_key("sel_key"));
    for (path, bearer) in [("/api/seller/events", &token), ("/v1/events", &key)] {
        // The burst is admitted, each answer saying what is left; then the seller is
        // refused. A token comes back each second, so a slow machine may be admitted
        // more than the burst before the first refusal: count to it.
        let mut admitted = 0;
        let refused = loop {
            let response = publish(&server, path, bearer).await;
            if response.status() == 429 {
                break response;
            }
            assert_eq!(response.status(), 202, "{path}");
            assert_eq!(header(&response, "ratelimit-limit"), 3);
            assert!(header(&response, "ratelimit-remaining") < 3);
            assert!(header(&response, "ratelimit-reset") <= 3);
            admitted += 1;
            assert!(admitted <= 10, "{path}: never refused");
        };
        assert!(
            admitted >= 3,
            "{path}: the burst of 3 was not admitted: {admitted}"
        );
        assert_eq!(header(&refused, "ratelimit-limit"), 3);
        assert_eq!(header(&refused, "ratelimit-remaining"), 0);
        assert!(header(&refused, "ratelimit-reset") >= 1);
        assert_eq!(header(&refused, "retry-after"), 1, "one token a second");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "rate_limited");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("try again in 1 s"), "{message}");
    }
    // The refused events were not stored.
    let (_, listed, text) = server
        .call(Method::GET, "/v1/events?limit=100", Some(&key), None)
        .await;
    let stored = listed["data"]["events"].as_array().unwrap().len();
    assert!((3..=10).contains(&stored), "{text}");

    // Another seller has a bucket of its own.
    let stranger = server.api_key("sel_slow");
    assert_eq!(
        publish(&server, "/v1/events", &stranger).await.status(),
        202
    );

    // After Retry-After, the seller is admitted again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(publish(&server, "/v1/events", &key).await.status(), 202);
}

#[tokio::test]
async fn a_seller_at_its_webhook_limit_is_refused_409_on_both_families() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target=loopback", "--max-webhooks", "2"],
    );
    let (token, key) = (server.token("sel_full"), server.api_key("sel_full"));
    let webhook =
        |n: u32| json!({"url": format!("https://example.com/{n}"), "events": ["user.created"]});
    let first = server.create_webhook(&token, &webhook(1)).await;
    let (status, _, text) = server
        .call(Method::POST, "/v1/webhooks", Some(&key), Some(&webhook(2)))
        .await;
    assert_eq!(status, 201, "{text}");
    for (path, bearer) in [("/api/seller/webhooks", &token), ("/v1/webhooks", &key)] {
        let answer = server
            .call(Method::POST, path, Some(bearer), Some(&webhook(3)))
            .await;
        assert_refused(&answer, 409, "webhook_limit_reached");
        assert!(answer.2.contains("delete one first"), "{}", answer.2);
    }
    let (_, listed, _) = server
        .call(Method::GET, "/v1/webhooks", Some(&key), None)
        .await;
    assert_eq!(listed["data"]["webhooks"].as_array().unwrap().len(), 2);
    // Other sellers are not held back; deleting one makes room.
    let other = server.token("sel_empty");
    server.create_webhook(&other, &webhook(4)).await;
    let id = first["data"]["webhook"]["id"].as_str().unwrap();
    let (status, _, text) = server
        .call(
            Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    server.create_webhook(&token, &webhook(5)).await;
}

#[tokio::test]
async fn settled_events_and_their_logs_are_forgotten_after_the_retention_window() {
    let dir = crate::support::data_dir();
    let server = Server::start_with(
        dir.path(),
        &["--allow-target=loopback", "--retention", "2s"],
    );
    let (token, key) = (server.token("sel_keep"), server.api_key("sel_keep"));
    let (up, down) = (Receiver::start().await, Receiver::start().await);
    down.answer(500);
    let mut hooks = Vec::new();
    for (receiver, event) in [(&down, "user.created"), (&up, "listing.created")] {
        let body = server
            .create_webhook(&token, &json!({"url": receiver.url, "events": [event]}))
            .await;
        let hook = &body["data"]["webhook"];
        receiver.verify_with(hook["secret"].as_str().unwrap());
        hooks.push(hook["id"].as_str().unwrap().to_owned());
    }
    // The failing one first: its event is never newer than the delivered one, so the
    // sweep that forgets the delivered event has passed it too, and kept it (pending:
    // its retry is a minute away).
    let kept = server
        .call(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(&json!({"type": "user.created", "data": {"user_id": "usr_1"}})),
        )
        .await;
    assert_eq!(kept.0, 202, "{}", kept.2);
    let kept = kept.1["data"]["event"]["id"].as_str().unwrap().to_owned();
    let gone = publish(&server, "/api/seller/events", &token).await;
    assert_eq!(gone.status(), 202);
    let gone = gone.json::<Value>().await.unwrap()["data"]["event"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        up.wait_for(HANG, |r| !r.is_empty()).await,
        "never delivered"
    );
    assert!(
        down.wait_for(HANG, |r| !r.is_empty()).await,
        "never attempted"
    );

    let logs = |hook: &str| format!("/v1/webhooks/{hook}/logs");
    let events = |body: &Value| -> Vec<String> {
        body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let started = Instant::now();
    loop {
        let (_, listed, _) = server
            .call(Method::GET, "/v1/events", Some(&key), None)
            .await;
        if !events(&listed).contains(&gone) {
            assert_eq!(
                events(&listed),
                std::slice::from_ref(&kept),
                "the pending event is kept"
            );
            break;
        }
        assert!(started.elapsed() < HANG, "never forgotten: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, delivered_logs, _) = server
        .call(Method::GET, &logs(&hooks[1]), Some(&key), None)
        .await;
    assert_eq!(
        delivered_logs["data"]["logs"],
        json!([]),
        "its logs went with it"
    );
    let (_, failing_logs, _) = server
        .call(Method::GET, &logs(&hooks[0]), Some(&key), None)
        .await;
    let failing = failing_logs["data"]["logs"].as_array().unwrap();
    assert!(!failing.is_empty());
    assert!(failing.iter().all(|l| l["event_id"] == kept.as_str()));
    assert!(server.logs().contains("retention: forgot settled events"));
}
