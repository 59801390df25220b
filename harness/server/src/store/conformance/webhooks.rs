//! Conformance: webhooks, signing secrets, isolation by seller, API keys.

use std::cell::RefCell;

use menon_webhooks::EventType;

use super::{
    claim, claim_one, disable, event, event_ids, finish, found, get, new_webhook, secrets, seller,
    update, webhook, DISABLED,
};
use crate::store::{
    AttemptFilter, Disable, NewWebhook, Settle, StatusChange, Store, StoreError, Webhook,
    WebhookChanges, WebhookPage, WebhookStatus,
};
use menon_harness_common::delivery::SigningScheme;
use menon_harness_common::ids::Secret;

/// Create returns the webhook as stored; get and list read it back; list is oldest first,
/// in insertion order for equal times.
pub fn webhooks_are_created_read_and_listed_oldest_first(
    store: &dyn Store,
) -> Result<(), StoreError> {
    let events = [EventType::MessageReceived, EventType::ListingCreated];
    let created = found(
        store.create_webhook(new_webhook("wh_b", "sel_a", &events, 2_000))?,
        "wh_b",
    )?;
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
    assert_eq!(listed(store, "sel_a", None, 10)?, ["wh_a", "wh_b", "wh_c"]);
    assert!(listed(store, "sel_none", None, 10)?.is_empty());
    assert_eq!(store.get_webhook(&seller("sel_a"), "wh_none")?, None);
    assert_eq!(secrets(store, "wh_b", 2_000)?, ["whsec_wh_b"]);
    Ok(())
}

/// The ids of a page of `owner`'s webhooks.
fn listed(
    store: &dyn Store,
    owner: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let page = WebhookPage {
        limit,
        after: after.map(str::to_owned),
    };
    Ok(store
        .list_webhooks(&seller(owner), &page)?
        .into_iter()
        .map(|w| w.id)
        .collect())
}

/// Webhooks come a page at a time: each page starts after the previous page's last
/// webhook, and a cursor naming no webhook of the seller (unknown, or another seller's)
/// yields an empty page, never someone else's list.
pub fn webhooks_are_paged_after_a_cursor(store: &dyn Store) -> Result<(), StoreError> {
    let events = [EventType::ListingCreated];
    for (id, at) in [
        ("wh_d", 3),
        ("wh_b", 1),
        ("wh_e", 3),
        ("wh_a", 1),
        ("wh_c", 2),
    ] {
        store.create_webhook(new_webhook(id, "sel_a", &events, at * 1_000))?;
    }
    webhook(store, "wh_other", "sel_b")?;
    // Equal times keep insertion order: wh_b before wh_a, wh_d before wh_e.
    assert_eq!(listed(store, "sel_a", None, 2)?, ["wh_b", "wh_a"]);
    assert_eq!(listed(store, "sel_a", Some("wh_a"), 2)?, ["wh_c", "wh_d"]);
    assert_eq!(listed(store, "sel_a", Some("wh_d"), 2)?, ["wh_e"]);
    assert!(listed(store, "sel_a", Some("wh_e"), 2)?.is_empty());
    assert!(listed(store, "sel_a", Some("wh_none"), 2)?.is_empty());
    assert!(listed(store, "sel_a", Some("wh_other"), 2)?.is_empty());
    assert!(listed(store, "sel_b", Some("wh_a"), 2)?.is_empty());
    assert_eq!(listed(store, "sel_b", None, 2)?, ["wh_other"]);
    Ok(())
}

/// A seller at its limit creates nothing more (and nothing is written); other sellers
/// are not held back, and deleting one makes room again.
pub fn a_seller_at_its_webhook_limit_creates_no_more(store: &dyn Store) -> Result<(), StoreError> {
    let limited = |id: &str, owner: &str| NewWebhook {
        seller_limit: 2,
        ..new_webhook(id, owner, &[EventType::ListingCreated], 1_000)
    };
    assert!(store.create_webhook(limited("wh_1", "sel_a"))?.is_some());
    assert!(store.create_webhook(limited("wh_2", "sel_a"))?.is_some());
    assert_eq!(store.create_webhook(limited("wh_3", "sel_a"))?, None);
    assert_eq!(store.get_webhook(&seller("sel_a"), "wh_3")?, None);
    assert!(store.create_webhook(limited("wh_4", "sel_b"))?.is_some());
    assert!(store.delete_webhook(&seller("sel_a"), "wh_1")?);
    assert!(store.create_webhook(limited("wh_3", "sel_a"))?.is_some());
    assert_eq!(listed(store, "sel_a", None, 10)?, ["wh_2", "wh_3"]);
    Ok(())
}

/// An update reads the webhook, asks `changes` with it as stored, changes the fields
/// given, keeps the others and stamps `updated_at`.
pub fn webhook_updates_apply_only_what_changes(store: &dyn Store) -> Result<(), StoreError> {
    let created = webhook(store, "wh_a", "sel_a")?;
    let seen = RefCell::new(Vec::new());
    let url = |stored: &Webhook| {
        seen.borrow_mut().push(stored.clone());
        WebhookChanges {
            url: Some("https://example.org/new".into()),
            ..WebhookChanges::default()
        }
    };
    let updated = found(
        store.update_webhook(&seller("sel_a"), "wh_a", &url, 1_500)?,
        "wh_a",
    )?;
    let seen = seen.take();
    assert_eq!(seen.len(), 1, "asked once");
    assert_eq!(seen[0], created, "with the row as stored");
    assert_eq!(updated.url, "https://example.org/new");
    assert_eq!(updated.events, created.events);
    assert_eq!(updated.status, WebhookStatus::Active);
    assert_eq!((updated.disabled_at, updated.disabled_reason), (None, None));
    assert_eq!((updated.created_at, updated.updated_at), (1_000, 1_500));
    let events = WebhookChanges {
        events: Some(vec![EventType::MessageReceived]),
        ..WebhookChanges::default()
    };
    update(store, "sel_a", "wh_a", events, 1_600)?;
    let off = disable(store, "sel_a", "wh_a", 1_700)?;
    assert_eq!(off.events, [EventType::MessageReceived]);
    assert_eq!(off.url, "https://example.org/new");
    assert_eq!(off.status, WebhookStatus::Disabled);
    assert_eq!(off.updated_at, 1_700);
    assert_eq!(get(store, "sel_a", "wh_a")?, off);
    let missing = store.update_webhook(
        &seller("sel_a"),
        "wh_none",
        &|_| unreachable!("changes asked for a missing webhook"),
        1_800,
    )?;
    assert_eq!(missing, None);
    Ok(())
}

/// `StatusChange::Disable` stores the status, the time and the reason it is given, with
/// the other changes, and leaves the failure history and the deliveries alone (kept,
/// neither claimed nor due).
pub fn disabling_stores_the_given_time_and_reason(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 1_000))?;
    let one = claim_one(store, 1_000)?;
    finish(store, &one, Settle::Retry(1_060), None, 1_010)?;
    let changes = WebhookChanges {
        url: Some("https://example.org/moved".into()),
        events: None,
        status: Some(StatusChange::Disable {
            at: 1_400,
            reason: "moving to a new endpoint".into(),
        }),
    };
    let off = found(update(store, "sel_a", "wh_a", changes, 1_500)?, "wh_a")?;
    assert_eq!(off.status, WebhookStatus::Disabled);
    assert_eq!(off.disabled_at, Some(1_400), "the time given, not `now`");
    assert_eq!(
        off.disabled_reason.as_deref(),
        Some("moving to a new endpoint")
    );
    assert_eq!(off.url, "https://example.org/moved");
    assert_eq!(off.updated_at, 1_500);
    assert_eq!(off.consecutive_failures, 1);
    assert_eq!(get(store, "sel_a", "wh_a")?, off);
    assert_eq!(store.queue_depth()?, 1);
    assert_eq!(store.next_due()?, None);
    assert!(claim(store, 5_000, 10)?.is_empty());
    // Written as given whatever the stored status: the caller decides.
    let again = disable(store, "sel_a", "wh_a", 1_800)?;
    assert_eq!(again.disabled_at, Some(1_800));
    assert_eq!(again.disabled_reason.as_deref(), Some(DISABLED));
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

/// A webhook keeps the signing scheme it was created with and shows the public key of
/// its newest `standard-v1a` key: stored, read back, listed, replaced by a rotation, and
/// handed to the dispatcher with each claim.
pub fn a_webhook_keeps_its_scheme_and_public_key(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_m", "sel_a")?;
    let created = found(
        store.create_webhook(NewWebhook {
            scheme: SigningScheme::StandardV1a,
            public_key: Some("whpk_first".into()),
            ..new_webhook("wh_s", "sel_a", &[EventType::ListingCreated], 1_000)
        })?,
        "the new webhook",
    )?;
    assert_eq!(created.scheme, SigningScheme::StandardV1a);
    assert_eq!(created.public_key.as_deref(), Some("whpk_first"));
    let menon = get(store, "sel_a", "wh_m")?;
    assert_eq!(
        (menon.scheme, menon.public_key),
        (SigningScheme::Menon, None)
    );
    let listed = store.list_webhooks(
        &seller("sel_a"),
        &WebhookPage {
            limit: 10,
            after: None,
        },
    )?;
    let schemes: Vec<_> = listed
        .iter()
        .map(|w| (w.scheme, w.public_key.clone()))
        .collect();
    assert_eq!(
        schemes,
        [
            (SigningScheme::Menon, None),
            (SigningScheme::StandardV1a, Some("whpk_first".into()))
        ]
    );
    let rotated = found(
        store.rotate_secret(
            &seller("sel_a"),
            "wh_s",
            Secret::new("whsk_second".into()),
            Some("whpk_second".into()),
            2_000,
            2_000 + 86_400,
        )?,
        "the rotated webhook",
    )?;
    assert_eq!(rotated.public_key.as_deref(), Some("whpk_second"));
    let stored = get(store, "sel_a", "wh_s")?;
    assert_eq!(stored.public_key.as_deref(), Some("whpk_second"));
    assert_eq!(stored.scheme, SigningScheme::StandardV1a);
    store.publish_event(&event("evt_1", "sel_a", 2_100))?;
    let mut claims = claim(store, 2_200, 2)?;
    claims.sort_by(|a, b| a.webhook_id.cmp(&b.webhook_id));
    let by_webhook: Vec<_> = claims
        .iter()
        .map(|c| (c.webhook_id.as_str(), c.scheme, c.secrets.len()))
        .collect();
    assert_eq!(
        by_webhook,
        [
            ("wh_m", SigningScheme::Menon, 1),
            ("wh_s", SigningScheme::StandardV1a, 2)
        ]
    );
    Ok(())
}

/// A rotation makes the new secret current; the one it replaces signs too until
/// `previous_until`; rotating again within that window forgets the oldest at once (at
/// most two live secrets).
pub fn rotation_keeps_the_previous_secret_until_its_window_ends(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    let rotated = store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_2".into()),
        None,
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
    // Rotating again within the window: the first secret goes at once; the second signs
    // beside the third for the new window.
    store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_3".into()),
        None,
        3_000,
        3_000 + 86_400,
    )?;
    assert_eq!(secrets(store, "wh_a", 3_001)?, ["whsec_3", "whsec_2"]);
    assert_eq!(
        secrets(store, "wh_a", 3_000 + 86_399)?,
        ["whsec_3", "whsec_2"]
    );
    assert_eq!(secrets(store, "wh_a", 3_000 + 86_400)?, ["whsec_3"]);
    // And after the window: one secret, then two again.
    store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_4".into()),
        None,
        100_000,
        100_000 + 86_400,
    )?;
    assert_eq!(secrets(store, "wh_a", 100_001)?, ["whsec_4", "whsec_3"]);
    assert_eq!(get(store, "sel_a", "wh_a")?.updated_at, 100_000);
    Ok(())
}

/// Every seller-scoped method treats another seller's resources as missing, and
/// changes nothing.
pub fn another_sellers_resources_are_not_found(store: &dyn Store) -> Result<(), StoreError> {
    let before = webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_1", "sel_a", 2_000))?;
    let claimed = claim_one(store, 2_000)?;
    let thief = seller("sel_b");
    assert!(listed(store, "sel_b", None, 10)?.is_empty());
    assert_eq!(store.get_webhook(&thief, "wh_a")?, None);
    assert_eq!(
        store.update_webhook(
            &thief,
            "wh_a",
            &|_| unreachable!("changes asked for another seller's webhook"),
            3_000
        )?,
        None
    );
    assert!(!store.delete_webhook(&thief, "wh_a")?);
    assert_eq!(
        store.rotate_secret(
            &thief,
            "wh_a",
            Secret::new("whsec_x".into()),
            None,
            3_000,
            9_000
        )?,
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

/// `StatusChange::Enable` makes the webhook active, resets its failure count, clears
/// its disabled time and reason, and requeues with a fresh schedule, due at `requeue_at`,
/// its pending deliveries (even one with attempts and a later due time) and those
/// failed at or after `requeue_failed_since`, not those failed before.
pub fn reenabling_resets_failures_and_requeues_kept_deliveries(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_old", "sel_a", 1_000))?;
    store.publish_event(&event("evt_last", "sel_a", 1_001))?;
    store.publish_event(&event("evt_retrying", "sel_a", 1_002))?;
    store.publish_event(&event("evt_kept", "sel_a", 5_000))?;
    // evt_old fails for good alone (a poison event) at 1 100.
    let old = claim_one(store, 1_000)?;
    assert_eq!(old.event.id, "evt_old");
    finish(store, &old, Settle::Fail, None, 1_100)?;
    // evt_last fails twice; its second failure ends the schedule and disables at 1 300.
    let last = claim_one(store, 1_200)?;
    assert_eq!(last.event.id, "evt_last");
    finish(store, &last, Settle::Retry(1_250), None, 1_200)?;
    // evt_retrying fails once and waits for its next attempt at 9 000.
    let retrying = claim_one(store, 1_210)?;
    assert_eq!(retrying.event.id, "evt_retrying");
    finish(store, &retrying, Settle::Retry(9_000), None, 1_210)?;
    let last = claim_one(store, 1_250)?;
    assert_eq!(last.event.id, "evt_last");
    let disable = Disable {
        reason: "conformance".into(),
        unless_success_since: None,
    };
    assert!(finish(store, &last, Settle::Fail, Some(disable), 1_300)?);
    let disabled = get(store, "sel_a", "wh_a")?;
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    assert_eq!(disabled.consecutive_failures, 4);
    assert_eq!(disabled.disabled_at, Some(1_300));
    assert!(claim(store, 5_000, 10)?.is_empty());

    let on = WebhookChanges {
        status: Some(StatusChange::Enable {
            requeue_at: 6_000,
            requeue_failed_since: Some(1_300),
        }),
        ..WebhookChanges::default()
    };
    let enabled = found(update(store, "sel_a", "wh_a", on, 6_100)?, "wh_a")?;
    assert_eq!(enabled.status, WebhookStatus::Active);
    assert_eq!(enabled.consecutive_failures, 0);
    assert_eq!((enabled.disabled_at, enabled.disabled_reason), (None, None));
    assert_eq!(enabled.updated_at, 6_100);
    assert_eq!(store.queue_depth()?, 3);
    assert_eq!(
        store.next_due()?,
        Some(6_000),
        "due at requeue_at, not `now`"
    );
    let again = claim(store, 6_000, 10)?;
    let mut ids = event_ids(&again);
    ids.sort_unstable();
    assert_eq!(ids, ["evt_kept", "evt_last", "evt_retrying"]);
    for c in &again {
        assert_eq!(c.failures, 0, "a fresh schedule for {}", c.event.id);
        assert_eq!(c.first_attempt_at, 6_000, "{}", c.event.id);
    }
    Ok(())
}

/// Which failed deliveries `StatusChange::Enable` requeues is given by
/// `requeue_failed_since` (inclusive), not by the stored disabled time: none without it.
pub fn enabling_requeues_failed_deliveries_from_the_given_time_only(
    store: &dyn Store,
) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    store.publish_event(&event("evt_a", "sel_a", 1_000))?;
    store.publish_event(&event("evt_b", "sel_a", 1_001))?;
    let a = claim_one(store, 1_000)?;
    finish(store, &a, Settle::Fail, None, 1_100)?;
    let b = claim_one(store, 1_200)?;
    let give_up = Disable {
        reason: "conformance".into(),
        unless_success_since: None,
    };
    assert!(finish(store, &b, Settle::Fail, Some(give_up), 1_300)?);
    let enable = |requeue_at, requeue_failed_since| WebhookChanges {
        status: Some(StatusChange::Enable {
            requeue_at,
            requeue_failed_since,
        }),
        ..WebhookChanges::default()
    };
    // Without a time, no failed delivery goes out again, not even the one failed at
    // the disabling.
    let on = found(
        update(store, "sel_a", "wh_a", enable(2_000, None), 2_000)?,
        "wh_a",
    )?;
    assert_eq!(on.status, WebhookStatus::Active);
    assert_eq!(store.queue_depth()?, 0);
    assert_eq!(store.next_due()?, None);
    // From 1 100: both, the one failed at exactly 1 100 included.
    disable(store, "sel_a", "wh_a", 3_000)?;
    update(store, "sel_a", "wh_a", enable(4_000, Some(1_100)), 4_000)?;
    assert_eq!(store.queue_depth()?, 2);
    let mut ids = event_ids(&claim(store, 4_000, 10)?)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    ids.sort_unstable();
    assert_eq!(ids, ["evt_a", "evt_b"]);
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

/// Resealing offers every stored secret with its webhook's id and stores what comes back
/// in its place (signing order unchanged); an error rolls all of it back.
pub fn secrets_are_resealed_in_place_or_not_at_all(store: &dyn Store) -> Result<(), StoreError> {
    webhook(store, "wh_a", "sel_a")?;
    webhook(store, "wh_b", "sel_b")?;
    store.rotate_secret(
        &seller("sel_a"),
        "wh_a",
        Secret::new("whsec_2".into()),
        None,
        2_000,
        2_000 + 86_400,
    )?;
    let seen = RefCell::new(Vec::new());
    let replaced = store.reseal_secrets(&|webhook_id, stored| {
        seen.borrow_mut()
            .push(format!("{webhook_id}:{}", stored.expose()));
        Ok((webhook_id == "wh_a").then(|| Secret::new(format!("sealed:{}", stored.expose()))))
    })?;
    assert_eq!(replaced, 2);
    let mut seen = seen.into_inner();
    seen.sort();
    assert_eq!(seen, ["wh_a:whsec_2", "wh_a:whsec_wh_a", "wh_b:whsec_wh_b"]);
    assert_eq!(
        secrets(store, "wh_a", 2_001)?,
        ["sealed:whsec_2", "sealed:whsec_wh_a"]
    );
    assert_eq!(secrets(store, "wh_b", 2_001)?, ["whsec_wh_b"]);
    // A failure half-way changes nothing.
    let failed = store.reseal_secrets(&|webhook_id, _| {
        if webhook_id == "wh_b" {
            Err(StoreError::Corrupt("does not open".into()))
        } else {
            Ok(Some(Secret::new("whsec_lost".into())))
        }
    });
    assert!(failed.is_err());
    assert_eq!(
        secrets(store, "wh_a", 2_001)?,
        ["sealed:whsec_2", "sealed:whsec_wh_a"]
    );
    Ok(())
}
