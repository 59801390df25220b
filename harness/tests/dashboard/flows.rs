//! The seller's flows through the pages: Add Webhook with its validation messages, edit,
//! disable and enable, delete, Send Test (delivered and failed), the logs' filter and
//! Retry. Each checks what the page shows and, through the API, what changed.

use reqwest::Method;
use serde_json::Value;

use crate::client::Browser;
use crate::support::receiver::Receiver;
use crate::support::Server;

async fn api_webhook(server: &Server, token: &str, id: &str) -> (u16, Value) {
    let (status, body, _) = server
        .call(
            Method::GET,
            &format!("/api/seller/webhooks/{id}"),
            Some(token),
            None,
        )
        .await;
    (status.as_u16(), body["data"]["webhook"].clone())
}

#[tokio::test]
async fn validation_messages_sit_next_to_their_fields() {
    let dir = crate::support::data_dir();
    // No --allow-target: the private-address guard is on.
    let server = Server::start_with(dir.path(), &[]);
    let browser = Browser::signed_in(&server, "sel_forms").await;
    let form = browser.get("/dashboard/webhooks/new").await;
    form.expect(200);
    for group in [
        "Listing",
        "Message",
        "Inquiry",
        "Subscription",
        "Payment",
        "User",
    ] {
        assert!(
            form.body.contains(&format!("<span>{group}</span>")),
            "{group}"
        );
    }
    assert_eq!(form.body.matches("name=\"events\"").count(), 21);
    assert_eq!(form.body.matches("data-group-toggle=").count(), 6);
    let csrf = form.csrf();

    // A private address and no events: both messages at once, the URL kept.
    let page = browser
        .post(
            "/dashboard/webhooks",
            &[("url", "https://10.1.2.3/hook"), ("csrf", &csrf)],
        )
        .await;
    page.expect(400);
    let url_error = page.testid("url-error").unwrap();
    assert!(
        url_error.contains("target address not allowed") && !url_error.contains("10.1.2.3"),
        "{url_error}"
    );
    assert_eq!(
        page.testid("events-error").unwrap(),
        "Pick at least one event."
    );
    assert!(page.body.contains("value=\"https://10.1.2.3/hook\""));
    assert!(page.body.contains("aria-invalid=\"true\""));

    // Plain http is refused by the same rule as the API's; the ticked events stay ticked.
    let page = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", "http://8.8.8.8/hook"),
                ("events", "invoice.paid"),
                ("csrf", &csrf),
            ],
        )
        .await;
    page.expect(400);
    assert!(page.testid("url-error").unwrap().contains("must use https"));
    assert!(page.testid("events-error").is_none());
    assert!(page
        .body
        .contains("value=\"invoice.paid\" data-group=\"payment\" checked"));

    // An empty URL gets words for people; an unknown event type the API's.
    let page = browser
        .post(
            "/dashboard/webhooks",
            &[("url", ""), ("events", "listing.exploded"), ("csrf", &csrf)],
        )
        .await;
    page.expect(400);
    assert!(page
        .testid("url-error")
        .unwrap()
        .starts_with("Enter your endpoint's URL"));
    assert!(page
        .testid("events-error")
        .unwrap()
        .contains("listing.exploded"));

    // A public https URL goes through the same guard and is accepted.
    let page = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", "https://8.8.8.8/hook"),
                ("events", "user.created"),
                ("csrf", &csrf),
            ],
        )
        .await;
    page.expect(201);

    // The edit form shows the same messages.
    let id = page.body.split("/dashboard/webhooks/").nth(1).unwrap();
    let id: String = id.chars().take_while(|c| *c != '"' && *c != '/').collect();
    let page = browser
        .post(
            &format!("/dashboard/webhooks/{id}/edit"),
            &[("url", "https://192.168.1.1/"), ("csrf", &csrf)],
        )
        .await;
    page.expect(400);
    let url_error = page.testid("url-error").unwrap();
    assert!(
        url_error.contains("target address not allowed") && !url_error.contains("192.168.1.1"),
        "{url_error}"
    );
    assert_eq!(
        page.testid("events-error").unwrap(),
        "Pick at least one event."
    );
}

#[tokio::test]
async fn edit_disable_enable_and_delete_go_through_the_api() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_manage");
    let (id, _) = crate::create_webhook(&server, &token).await;
    let browser = Browser::signed_in(&server, "sel_manage").await;
    let href = format!("/dashboard/webhooks/{id}");

    let list = browser.get("/dashboard").await;
    list.expect(200);
    assert!(list.body.contains(crate::RECEIVER_URL));
    assert_eq!(list.testid("event-count").unwrap(), "2");
    assert_eq!(list.testid("last-delivery").unwrap(), "No deliveries yet");

    let page = browser.get(&href).await;
    page.expect(200);
    assert_eq!(page.testid("webhook-status").unwrap(), "Active");
    assert!(page
        .testid("empty-logs")
        .unwrap()
        .contains("No deliveries yet"));
    let csrf = page.csrf();

    let edit = browser.get(&format!("{href}/edit")).await;
    assert!(edit
        .body
        .contains("value=\"listing.created\" data-group=\"listing\" checked"));
    let saved = browser
        .post(
            &format!("{href}/edit"),
            &[
                ("url", "http://127.0.0.1:9/changed"),
                ("events", "message.received"),
                ("events", "conversation.created"),
                ("events", "invoice.paid"),
                ("csrf", &csrf),
            ],
        )
        .await;
    saved.expect(303);
    assert_eq!(saved.location(), format!("{href}?notice=saved"));
    assert_eq!(
        browser
            .get(saved.location())
            .await
            .testid("notice")
            .unwrap(),
        "Changes saved."
    );
    let (_, webhook) = api_webhook(&server, &token, &id).await;
    assert_eq!(webhook["url"], "http://127.0.0.1:9/changed");
    assert_eq!(
        webhook["events"],
        serde_json::json!(["message.received", "conversation.created", "invoice.paid"])
    );

    let off = browser
        .post(
            &format!("{href}/status"),
            &[("status", "disabled"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(off.location(), format!("{href}?notice=disabled"));
    assert_eq!(
        api_webhook(&server, &token, &id).await.1["status"],
        "disabled"
    );
    let page = browser.get(&href).await;
    assert_eq!(page.testid("webhook-status").unwrap(), "Disabled");
    assert!(page.body.contains("data-testid=\"enable\""));
    let list = browser.get("/dashboard").await;
    assert!(list.body.contains("badge-disabled"));
    let on = browser
        .post(
            &format!("{href}/status"),
            &[("status", "active"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(on.location(), format!("{href}?notice=enabled"));
    assert_eq!(
        api_webhook(&server, &token, &id).await.1["status"],
        "active"
    );
    let bad = browser
        .post(
            &format!("{href}/status"),
            &[("status", "paused"), ("csrf", &csrf)],
        )
        .await;
    bad.expect(400);

    let confirm = browser.get(&format!("{href}/delete")).await;
    confirm.expect(200);
    assert!(confirm.body.contains("Delete this webhook?"));
    assert!(confirm.body.contains("cannot be undone"));
    assert_eq!(
        api_webhook(&server, &token, &id).await.0,
        200,
        "asking deletes nothing"
    );
    let deleted = browser
        .post(&format!("{href}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.location(), "/dashboard?notice=deleted");
    assert_eq!(api_webhook(&server, &token, &id).await.0, 404);
    let list = browser.get(deleted.location()).await;
    assert!(list.testid("notice").unwrap().contains("Webhook deleted"));
    assert!(list.testid("empty-webhooks").is_some());
    browser.get(&href).await.expect(404);
}

#[tokio::test]
async fn saving_new_events_does_not_check_an_unchanged_url_again() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_events");
    let (id, _) = crate::create_webhook(&server, &token).await;
    server.stop();
    // The same data under a server that would refuse that URL today (plain http, loopback):
    // the webhook's events can still be changed.
    let server = Server::start_with(dir.path(), &[]);
    let browser = Browser::signed_in(&server, "sel_events").await;
    let href = format!("/dashboard/webhooks/{id}");
    let csrf = browser.get(&format!("{href}/edit")).await.csrf();
    let edit = |url: &'static str| {
        let csrf = csrf.clone();
        let browser = &browser;
        let path = format!("{href}/edit");
        async move {
            browser
                .post(
                    &path,
                    &[("url", url), ("events", "invoice.paid"), ("csrf", &csrf)],
                )
                .await
        }
    };
    let saved = edit(crate::RECEIVER_URL).await;
    saved.expect(303);
    assert_eq!(saved.location(), format!("{href}?notice=saved"));
    let (_, webhook) = api_webhook(&server, &token, &id).await;
    assert_eq!(webhook["events"], serde_json::json!(["invoice.paid"]));
    assert_eq!(webhook["url"], crate::RECEIVER_URL);
    // Nothing changed: saved, as it was.
    edit(crate::RECEIVER_URL).await.expect(303);
    // A new URL is checked, by the API's rule.
    let refused = edit("http://127.0.0.1:9/other").await;
    refused.expect(400);
    assert!(
        refused
            .testid("url-error")
            .unwrap()
            .contains("must use https"),
        "{}",
        refused.body
    );
    assert_eq!(
        api_webhook(&server, &token, &id).await.1["url"],
        crate::RECEIVER_URL
    );
}

#[tokio::test]
async fn send_test_shows_the_result_then_a_failure_is_retried() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let receiver = Receiver::start().await;
    let token = server.token("sel_tester");
    let created = server
        .create_webhook(
            &token,
            &serde_json::json!({"url": receiver.url, "events": ["listing.created", "payment.failed"]}),
        )
        .await;
    let id = created["data"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.verify_with(created["data"]["webhook"]["secret"].as_str().unwrap());
    let browser = Browser::signed_in(&server, "sel_tester").await;
    let href = format!("/dashboard/webhooks/{id}");

    let form = browser.get(&format!("{href}/test")).await;
    form.expect(200);
    assert!(form
        .body
        .contains("<option value=\"listing.created\" selected>listing.created</option>"));
    assert!(form.body.contains("user.verified (not subscribed)"));
    assert!(form.testid("test-result").is_none());
    let csrf = form.csrf();

    // Delivered: code, time, the payload sent and the receiver's answer.
    let sent = browser
        .post(
            &format!("{href}/test"),
            &[("event_type", "payment.failed"), ("csrf", &csrf)],
        )
        .await;
    sent.expect(200);
    assert_eq!(sent.testid("result-status").unwrap(), "Delivered");
    assert_eq!(sent.testid("result-code").unwrap(), "200");
    assert!(sent.testid("result-time").unwrap().ends_with(" ms"));
    // The payload exactly as sent: the bytes the receiver got and verified, not re-indented.
    let payload = sent
        .body
        .split("data-testid=\"payload\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap()
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    assert_eq!(
        payload,
        String::from_utf8(receiver.received()[0].body.clone()).unwrap()
    );
    assert!(payload.contains("\"type\":\"payment.failed\""), "{payload}");
    assert!(!payload.contains("\"test\""), "no test member: {payload}");
    assert_eq!(receiver.received()[0].header("X-Menon-Test"), "true");
    assert_eq!(sent.testid("response-body").unwrap(), "ok");
    assert!(sent
        .body
        .contains(&format!("data-replace-url=\"{href}/test\"")));
    // The API's test answer carries the same: what was sent, and the start of the answer.
    let (status, api, text) = server
        .call(
            Method::POST,
            &format!("/api/seller/webhooks/{id}/test"),
            Some(&token),
            Some(&serde_json::json!({"event_type": "payment.failed"})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(api["data"]["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec![
            "created_at".into(),
            "data".into(),
            "id".into(),
            "type".into()
        ])
    );
    assert_eq!(api["data"]["response_body"], "ok");
    assert_eq!(api["data"]["response_body_truncated"], false);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("X-Menon-Event"), "payment.failed");
    receiver.assert_all_verified();

    // The receiver breaks: the result says so, with a hint; the logs show the failure.
    receiver.answer(500);
    let failed = browser
        .post(
            &format!("{href}/test"),
            &[("event_type", "listing.created"), ("csrf", &csrf)],
        )
        .await;
    failed.expect(200);
    assert_eq!(failed.testid("result-status").unwrap(), "Failed");
    assert_eq!(failed.testid("result-code").unwrap(), "500");
    let error = failed.testid("result-error").unwrap();
    assert!(
        error.contains("Internal Server Error") && error.contains("its own logs"),
        "{error}"
    );

    let list = browser.get("/dashboard").await;
    assert!(list
        .testid("last-delivery")
        .unwrap()
        .starts_with("Failed 500"));
    let page = browser.get(&href).await;
    assert_eq!(page.body.matches("data-log-id=").count(), 3);
    let only_failed = browser.get(&format!("{href}?status=failed")).await;
    assert_eq!(only_failed.body.matches("data-log-id=").count(), 1);
    assert_eq!(only_failed.testid("log-code").unwrap(), "500");
    assert!(only_failed
        .body
        .contains("<option value=\"failed\" selected>"));
    let by_type = browser
        .get(&format!("{href}?event_type=payment.failed"))
        .await;
    assert_eq!(by_type.body.matches("data-log-id=").count(), 2);
    assert!(by_type.body.contains("data-status=\"delivered\""));
    let none = browser.get(&format!("{href}?status=pending")).await;
    assert!(none
        .testid("empty-logs")
        .unwrap()
        .contains("No deliveries match"));
    // Only a failed attempt offers Retry.
    assert_eq!(page.body.matches("data-testid=\"retry\"").count(), 1);
    let failed_log = only_failed
        .body
        .split("data-log-id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Fixed, the retry gets through and the new attempt is highlighted.
    receiver.answer(200);
    let retried = browser
        .post(
            &format!("{href}/logs/{failed_log}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    retried.expect(303);
    assert!(
        retried
            .location()
            .starts_with(&format!("{href}?notice=retry-delivered&highlight=log_")),
        "{}",
        retried.location()
    );
    let page = browser.get(retried.location()).await;
    assert!(page
        .testid("notice")
        .unwrap()
        .starts_with("Retry delivered"));
    let highlighted = page.body.split("class=\"highlight\"").nth(1).unwrap();
    assert!(highlighted
        .split("</tr>")
        .next()
        .unwrap()
        .contains("Delivered"));
    assert_eq!(receiver.received().len(), 4);
    assert_eq!(
        receiver.received()[3].event_id(),
        receiver.received()[2].event_id(),
        "a retry sends the same event again"
    );
    receiver.assert_all_verified();

    // A disabled webhook is not retried: the page says what to do.
    browser
        .post(
            &format!("{href}/status"),
            &[("status", "disabled"), ("csrf", &csrf)],
        )
        .await
        .expect(303);
    let refused = browser
        .post(
            &format!("{href}/logs/{failed_log}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.location(), format!("{href}?notice=retry-disabled"));
    let page = browser.get(refused.location()).await;
    assert!(page
        .testid("notice")
        .unwrap()
        .contains("enable it, then retry"));
    assert_eq!(receiver.received().len(), 4);
}

#[tokio::test]
async fn a_receiver_that_is_down_is_reported_as_such() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_down");
    let (id, _) = crate::create_webhook(&server, &token).await;
    let browser = Browser::signed_in(&server, "sel_down").await;
    let href = format!("/dashboard/webhooks/{id}");
    let csrf = browser.get(&href).await.csrf();
    let page = browser
        .post(
            &format!("{href}/test"),
            &[("event_type", "user.created"), ("csrf", &csrf)],
        )
        .await;
    page.expect(200);
    assert_eq!(page.testid("result-status").unwrap(), "Failed");
    assert_eq!(page.testid("result-code").unwrap(), "—");
    assert!(page
        .testid("result-error")
        .unwrap()
        .contains("could not connect"));
    assert!(page
        .testid("response-body")
        .unwrap()
        .contains("did not answer"));
    let bad = browser
        .post(
            &format!("{href}/test"),
            &[("event_type", "user.exploded"), ("csrf", &csrf)],
        )
        .await;
    bad.expect(400);
    assert!(bad.body.contains("user.exploded"));
}

#[tokio::test]
async fn add_webhook_picks_a_signing_scheme_and_shows_the_public_key() {
    let dir = crate::support::data_dir();
    let server = Server::start(dir.path());
    let token = server.token("sel_scheme");
    let browser = Browser::signed_in(&server, "sel_scheme").await;
    let form = browser.get("/dashboard/webhooks/new").await;
    form.expect(200);
    assert!(
        form.body.contains("<option value=\"menon\" selected>"),
        "{}",
        form.body
    );
    let csrf = form.csrf();

    // standard-v1a: no secret to copy, the public key instead, and on the webhook's page.
    let created = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", crate::RECEIVER_URL),
                ("events", "listing.created"),
                ("scheme", "standard-v1a"),
                ("csrf", &csrf),
            ],
        )
        .await;
    created.expect(201);
    assert!(
        created.testid("secret-warning").is_none(),
        "{}",
        created.body
    );
    assert!(!created.body.contains("whsk_"));
    let public_key = created
        .value_of("public-key")
        .expect("the public key field");
    assert!(public_key.starts_with("whpk_"), "{public_key}");
    let (_, list, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    let webhook = &list["data"]["webhooks"][0];
    assert_eq!(webhook["scheme"], "standard-v1a");
    assert_eq!(webhook["publicKey"], public_key.as_str());
    let id = webhook["id"].as_str().unwrap();
    let page = browser.get(&format!("/dashboard/webhooks/{id}")).await;
    assert_eq!(page.testid("webhook-scheme").unwrap(), "standard-v1a");
    assert_eq!(page.testid("public-key").unwrap(), public_key);

    // Rotating shows the new public key, still no secret.
    let rotated = browser
        .post(
            &format!("/dashboard/webhooks/{id}/rotate-secret"),
            &[("csrf", &csrf)],
        )
        .await;
    rotated.expect(200);
    let second = rotated.value_of("public-key").expect("the new public key");
    assert!(second.starts_with("whpk_") && second != public_key);
    assert!(rotated.body.contains("two signatures"), "{}", rotated.body);

    // standard-v1: a whsec_ secret shown once, as for menon.
    let created = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", crate::RECEIVER_URL),
                ("events", "listing.created"),
                ("scheme", "standard-v1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    created.expect(201);
    assert!(created.value_of("secret").unwrap().starts_with("whsec_"));
    assert!(created.body.contains("webhook-signature"));

    // A scheme the form does not offer is refused beside the form, nothing created.
    let refused = browser
        .post(
            "/dashboard/webhooks",
            &[
                ("url", crate::RECEIVER_URL),
                ("events", "listing.created"),
                ("scheme", "standard-v9"),
                ("csrf", &csrf),
            ],
        )
        .await;
    refused.expect(400);
    assert!(
        refused.body.contains("scheme must be one of"),
        "{}",
        refused.body
    );
    let (_, list, _) = server
        .call(Method::GET, "/api/seller/webhooks", Some(&token), None)
        .await;
    assert_eq!(list["data"]["webhooks"].as_array().unwrap().len(), 2);
}
