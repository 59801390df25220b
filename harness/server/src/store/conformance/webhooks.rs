//! Conformance: webhooks, signing secrets, isolation by seller, API keys.

use menon_webhooks::EventType;

use super::{
    claim, claim_one, event, event_ids, finish, found, get, new_webhook, secrets, seller, status,
    webhook,
};
use crate::store::{
    AttemptFilter, Disable, Settle, Store, StoreError, WebhookChanges, WebhookStatus,
};
use menon_harness_common::ids::Secret;

/// Create returns the webhook as stored; get and list read it back; list is oldest first,
/// in insertion order for equal times.
pub fn webhooks_are_created_read_and_listed_oldest_first(
    store: &dyn Store,
) -> Result<(), StoreError> {
    let events = [EventType::MessageReceived, EventType::ListingCreated];
    let created = store.create_webhook(new_webhook("wh_b", "sel_a", &events, 2_000))?;
    assert_eq!(created.id, "wh_b");
    assert_eq!(created.seller_id, seller("sel_a"));
    assert_eq!(created.url, "https://example.com/wh_b");
    assert_eq!(created.events, events, "events keep the order given");
    assert_eq!(created.status, WebhookStatus::Active);
    assert_eq!((created.created_at, created.updated_at), (2_000, 2_000));
    assert_eq!(created.consecutive_failures, 0);
    assert_eq!(get(store, "sel_a", "wh_b")?, created);
    store.create_webhook(new_webhook("wh_c", "sel_a", &events, 2_000))?;
    store.create_webhook(new_webhook("wh_a", "sel_a", &events, 1_000))?;
    let listed: Vec<String> = store
        .list_webhooks(&seller("sel_a"))?
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, ["wh_a", "wh_b", "wh_c"]);
    assert!(store.list_webhooks(&seller("sel_none"))?.is_empty());
    assert_eq!(store.get_webhook(&seller("sel_a"), "wh_none")?, None);
    assert_eq!(secrets(store, "wh_b", 2_000)?, ["whsec_wh_b"]);
    Ok(())
}

/// An update changes the fields given, keeps the others and stamps `updated_at`.
pub fn webhook_updates_apply_only_what_changes(store: &dyn Store) -> Result<(), StoreError> {
    let created = webhook(store, "wh_a", "sel_a")?;
    let url = WebhookChanges {
        url: Some("https://example.org/new".into()),
        ..WebhookChanges::default()
    };
    let updated = found(
        store.update_webhook(&seller("sel_a"), "wh_a", url, 1_500)?,
        "wh_a",
    )?;
    assert_eq!(updated.url, "https://example.org/new");
    assert_eq!(updated.events, created.events);
    assert_eq!(updated.status, WebhookStatus::Active);
    assert_eq!((updated.created_at, updated.updated_at), (1_000, 1_500));
    let events = WebhookChanges {
        events: Some(vec![EventType::MessageReceived]),
        ..WebhookChanges::default()
    };
    store.update_webhook(&seller("sel_a"), "wh_a", events, 1_600)?;
    let off = found(
        store.update_webhook(
            &seller("sel_a"),
            "wh_a",
            status(WebhookStatus::Disabled),
            1_700,
        )?,
        "wh_a",
    )?;
    assert_eq!(off.events, [EventType::MessageReceived]);
    assert_eq!(off.url, "https://example.org/new");
    assert_eq!(off.status, WebhookStatus::Disabled);
    assert_eq!(get(store, "sel_a", "wh_a")?, off);
    assert_eq!(
        store.update_webhook(
            &seller("sel_a"),
            "wh_none",
            WebhookChanges::default(),
            1_800
        )?,
        None
    );
    Ok(())
}

/// Deleting a webhook takes its secrets, deliveries and logs with it.
pub fn deleting_a_webhook_removes_its_secrets_deliveries_and_logs(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_a")?;
    assert_eq!(store.publish_event(&event("evt_1", "sel_a", 2_000))?, 2);
    let first = claim_one(store, 2_000)?;
    assert_eq!(store.queue_depth()?, 2);
    assert!(store.delete_webhook(&seller("sel_a"), &first.webhook_id)?);
    assert!(!store.delete_webhook(&seller("sel_a"), &first.webhook_id)?);
    assert_eq!(
        store.get_webhook(&seller("sel_a"), &first.webhook_id)?,
        None
    );
    assert!(store.signing_secrets(&first.webhook_id, 2_000)?.is_empty());
    assert_eq!(store.queue_depth()?, 1);
    let all = AttemptFilter {
        limit: 10,
        ..AttemptFilter::default()
    };
    assert_eq!(
        store.list_attempts(&seller("sel_a"), &first.webhook_id, &all)?,
        None
    );
    // The other webhook's delivery is still there.
    let other = claim_one(store, 3_000)?;
    assert_ne!(other.webhook_id, first.webhook_id);
    Ok(())
}

/// A rotation makes the new secret current; the previous ones sign too until
/// `previous_until`; a later rotation never extends an earlier window.
pub fn rotation_keeps_previous_secrets_until_their_window_ends(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    let rotated = store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_2".into()),
        2_000,
        2_000 + 86_400,
    )?;
    assert_eq!(found(rotated, "wh_a")?.id, "wh_a");
    assert_eq!(secrets(store, "wh_a", 2_001)?, ["whsec_2", "whsec_wh_a"]);
    assert_eq!(
        secrets(store, "wh_a", 2_000 + 86_399)?,
        ["whsec_2", "whsec_wh_a"]
    );
    assert_eq!(secrets(store, "wh_a", 2_000 + 86_400)?, ["whsec_2"]);
    // Rotating again within the window: newest first, and the oldest keeps its earlier end.
    store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_3".into()),
        3_000,
        3_000 + 172_800,
    )?;
    assert_eq!(
        secrets(store, "wh_a", 3_001)?,
        ["whsec_3", "whsec_2", "whsec_wh_a"]
    );
    assert_eq!(
        secrets(store, "wh_a", 2_000 + 86_400)?,
        ["whsec_3", "whsec_2"]
    );
    assert_eq!(secrets(store, "wh_a", 3_000 + 172_800)?, ["whsec_3"]);
    assert_eq!(get(store, "sel_a", "wh_a")?.updated_at, 3_000);
    Ok(())
}

/// Every seller-scoped method treats another seller's resources as missing, and
/// changes nothing.
pub fn another_sellers_resources_are_not_found(store: &dyn Store) -> Result<(), StoreError> {
    let before = webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 2_000))?;
    let claimed = claim_one(store, 2_000)?;
    let thief = seller("sel_b");
    assert!(store.list_webhooks(&thief)?.is_empty());
    assert_eq!(store.get_webhook(&thief, "wh_a")?, None);
    assert_eq!(
        store.update_webhook(&thief, "wh_a", status(WebhookStatus::Disabled), 3_000)?,
        None
    );
    assert!(!store.delete_webhook(&thief, "wh_a")?);
    assert_eq!(
        store.rotate_secret(&thief, "wh_a", Secret::new("whsec_x".into()), 3_000, 9_000)?,
        None
    );
    let all = AttemptFilter {
        limit: 10,
        ..AttemptFilter::default()
    };
    assert_eq!(store.list_attempts(&thief, "wh_a", &all)?, None);
    assert!(store
        .attempt_event(&thief, "wh_a", &claimed.log_id)?
        .is_none());
    // Publishing for another seller queues nothing for this one's webhook.
    assert_eq!(store.publish_event(&event("evt_2", "sel_b", 2_000))?, 0);
    assert_eq!(get(store, "sel_a", "wh_a")?, before);
    assert_eq!(secrets(store, "wh_a", 3_001)?, ["whsec_wh_a"]);
    Ok(())
}

/// Re-enabling a disabled webhook resets its failure history and sends its kept
/// deliveries again with a fresh schedule: the pending ones and those that failed for
/// good since it was disabled, not those that failed before.
pub fn reenabling_resets_failures_and_requeues_kept_deliveries(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_old", "sel_a", 1_000))?;
    store.publish_event(&event("evt_last", "sel_a", 1_001))?;
    store.publish_event(&event("evt_kept", "sel_a", 5_000))?;
    // evt_old fails for good alone (a poison event) at 1 100.
    let old = claim_one(store, 1_000)?;
    assert_eq!(old.event.id, "evt_old");
    finish(store, &old, Settle::Fail, None, 1_100)?;
    // evt_last fails twice; its second failure ends the schedule and disables at 1 300.
    let last = claim_one(store, 1_200)?;
    assert_eq!(last.event.id, "evt_last");
    finish(store, &last, Settle::Retry(1_250), None, 1_200)?;
    let last = claim_one(store, 1_250)?;
    assert_eq!(last.event.id, "evt_last");
    let disable = Disable {
        reason: "conformance".into(),
        unless_success_since: None,
    };
    assert!(finish(store, &last, Settle::Fail, Some(disable), 1_300)?);
    let disabled = get(store, "sel_a", "wh_a")?;
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    assert_eq!(disabled.consecutive_failures, 3);
    assert!(claim(store, 5_000, 10)?.is_empty());

    let enabled = found(
        store.update_webhook(
            &seller("sel_a"),
            "wh_a",
            status(WebhookStatus::Active),
            6_000,
        )?,
        "wh_a",
    )?;
    assert_eq!(enabled.status, WebhookStatus::Active);
    assert_eq!(enabled.consecutive_failures, 0);
    assert_eq!(store.queue_depth()?, 2);
    assert_eq!(store.next_due()?, Some(6_000));
    let again = claim(store, 6_000, 10)?;
    let mut ids = event_ids(&again);
    ids.sort_unstable();
    assert_eq!(ids, ["evt_kept", "evt_last"]);
    for c in &again {
        assert_eq!(c.failures, 0, "a fresh schedule for {}", c.event.id);
        assert_eq!(c.first_attempt_at, 6_000, "{}", c.event.id);
    }
    Ok(())
}

/// An API key is found by its hash, for its seller only.
pub fn api_keys_are_found_by_hash(store: &dyn Store) -> Result<(), StoreError> {
    store.insert_api_key(&[7; 32], "mk_abc", &seller("sel_a"), 1)?;
    store.insert_api_key(&[9; 32], "mk_def", &seller("sel_b"), 2)?;
    assert_eq!(store.seller_for_api_key(&[7; 32])?, Some(seller("sel_a")));
    assert_eq!(store.seller_for_api_key(&[9; 32])?, Some(seller("sel_b")));
    assert_eq!(store.seller_for_api_key(&[8; 32])?, None);
    Ok(())
}
