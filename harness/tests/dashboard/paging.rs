//! Long lists: the webhook list and the delivery logs come 20 to a page, with paging that
//! says where you are.

use reqwest::Method;
use serde_json::json;

use crate::client::Browser;
use crate::support::Server;

#[tokio::test]
async fn long_lists_are_paged() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_many");
    let mut ids = Vec::new();
    for n in 0..45 {
        let body = server
            .create_webhook(
                &token,
                &json!({"url": format!("http://127.0.0.1:9/hook/{n}"), "events": ["listing.sold"]}),
            )
            .await;
        ids.push(body["data"]["webhook"]["id"].as_str().unwrap().to_owned());
    }
    let browser = Browser::signed_in(&server, "sel_many").await;

    let first = browser.get("/dashboard").await;
    first.expect(200);
    assert_eq!(first.body.matches("data-webhook-id=").count(), 20);
    let pager = first.testid("pager").unwrap();
    assert!(
        pager.contains("Showing 1–20 of 45") && pager.contains("Page 1 of 3"),
        "{pager}"
    );
    assert!(first.body.contains("href=\"/dashboard?page=2\""));
    let second = browser.get("/dashboard?page=2").await;
    let last = browser.get("/dashboard?page=3").await;
    assert_eq!(last.body.matches("data-webhook-id=").count(), 5);
    assert!(last
        .testid("pager")
        .unwrap()
        .contains("Showing 41–45 of 45"));
    assert!(last.body.contains("href=\"/dashboard?page=2\""));
    // Every webhook on exactly one page.
    for id in &ids {
        let marker = format!("data-webhook-id=\"{id}\"");
        let pages = [&first, &second, &last]
            .iter()
            .filter(|p| p.body.contains(&marker))
            .count();
        assert_eq!(pages, 1, "{id}");
    }
    // Out of range or garbled pages land on a real one.
    let beyond = browser.get("/dashboard?page=99").await;
    assert!(beyond.testid("pager").unwrap().contains("Page 3 of 3"));
    let garbled = browser.get("/dashboard?page=x").await;
    assert!(garbled.testid("pager").unwrap().contains("Page 1 of 3"));

    // 25 attempts: 20, then 5 older, then back to the newest.
    let id = &ids[44];
    for _ in 0..25 {
        let (status, _, text) = server
            .call(
                Method::POST,
                &format!("/api/seller/webhooks/{id}/test"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
    }
    let href = format!("/dashboard/webhooks/{id}");
    let page = browser.get(&href).await;
    assert_eq!(page.body.matches("data-log-id=").count(), 20);
    let newest = page
        .body
        .split("data-log-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let pager = page.testid("log-pager").unwrap();
    assert!(pager.contains("Page 1"), "{pager}");
    let older = page
        .body
        .split("rel=\"next\"")
        .next()
        .and_then(|head| head.rsplit("href=\"").next())
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        older.contains("cursor=log_") && older.contains("page=2"),
        "{older}"
    );
    let page = browser.get(older.trim_end_matches("#logs")).await;
    page.expect(200);
    assert_eq!(page.body.matches("data-log-id=").count(), 5);
    let pager = page.testid("log-pager").unwrap();
    assert!(
        pager.contains("Page 2") && pager.contains("Newest") && pager.contains("No older entries"),
        "{pager}"
    );

    // The page number is the client's, a label only: the largest one is shown as given,
    // and the link to the next older page does not overflow it.
    let huge = browser
        .get(&format!("{href}?cursor={newest}&page=4294967295"))
        .await;
    huge.expect(200);
    assert_eq!(huge.body.matches("data-log-id=").count(), 20);
    assert!(huge
        .testid("log-pager")
        .unwrap()
        .contains("Page 4294967295"));
    assert!(
        huge.body.contains("page=4294967295#logs\""),
        "{}",
        huge.body
    );
}

#[tokio::test]
async fn a_bad_log_filter_gets_the_apis_message() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_filter");
    let (id, _) = crate::create_webhook(&server, &token).await;
    let browser = Browser::signed_in(&server, "sel_filter").await;
    let href = format!("/dashboard/webhooks/{id}");
    // "All" is an empty value: no filter.
    browser
        .get(&format!("{href}?status=&event_type="))
        .await
        .expect(200);
    for (query, says) in [
        ("status=lost", "lost"),
        ("event_type=listing.exploded", "listing.exploded"),
    ] {
        let page = browser.get(&format!("{href}?{query}")).await;
        page.expect(400);
        let message = page.testid("error").unwrap();
        assert!(message.contains(says), "{query}: {message}");
        // The same words as the API's answer to the same query.
        let (status, body, _) = server
            .call(
                Method::GET,
                &format!("/api/seller/webhooks/{id}/logs?{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 400);
        let api_message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&crate::client::strip_tags(api_message)),
            "{query}: {message} / {api_message}"
        );
    }
}
