//! Webhooks and their signing secrets on SQLite ([`WebhookStore`]).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{secs, unsigned, SqliteStore};
use crate::store::model::{events_from_json, events_to_json};
use crate::store::{
    NewWebhook, Reseal, SellerId, StatusChange, StoreError, Webhook, WebhookChanges, WebhookPage,
    WebhookStore,
};
use menon_harness_common::ids::Secret;

const WEBHOOK_COLUMNS: &str = "id, seller_id, url, events, status, created_at, updated_at, \
     consecutive_failures, disabled_at, disabled_reason, scheme, public_key";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Webhook, StoreError>> {
    let events: String = row.get(3)?;
    let status: String = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    let updated_at: i64 = row.get(6)?;
    let failures: i64 = row.get(7)?;
    let disabled_at: Option<i64> = row.get(8)?;
    let disabled_reason: Option<String> = row.get(9)?;
    let id: String = row.get(0)?;
    let seller: String = row.get(1)?;
    let url: String = row.get(2)?;
    let scheme: String = row.get(10)?;
    let public_key: Option<String> = row.get(11)?;
    Ok((|| {
        Ok(Webhook {
            id,
            seller_id: SellerId(seller),
            url,
            events: events_from_json(&events)?,
            status: status.parse()?,
            created_at: unsigned(created_at),
            updated_at: unsigned(updated_at),
            consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
            disabled_at: disabled_at.map(unsigned),
            disabled_reason,
            scheme: scheme
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("unknown webhook scheme {scheme:?}")))?,
            public_key,
        })
    })())
}

pub(super) fn select_webhook(
    conn: &Connection,
    seller: &SellerId,
    id: &str,
) -> Result<Option<Webhook>, StoreError> {
    conn.query_row(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1 AND seller_id = ?2"),
        params![id, seller.0],
        webhook_from_row,
    )
    .optional()?
    .transpose()
}

impl WebhookStore for SqliteStore {
    fn create_webhook(&self, new: NewWebhook) -> Result<Option<Webhook>, StoreError> {
        // One connection, one writer: the count and the insert see the same rows.
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let has: i64 = tx.query_row(
            "SELECT COUNT(*) FROM webhooks WHERE seller_id = ?1",
            params![new.seller_id.0],
            |row| row.get(0),
        )?;
        if unsigned(has) >= u64::from(new.seller_limit) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO webhooks (id, seller_id, url, events, status, created_at, updated_at,
                                   scheme, public_key)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?5, ?6, ?7)",
            params![
                new.id,
                new.seller_id.0,
                new.url,
                events_to_json(&new.events),
                secs(new.now),
                new.scheme.as_str(),
                new.public_key
            ],
        )?;
        tx.execute(
            "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES (?1, ?2, ?3)",
            params![new.id, new.secret.expose(), secs(new.now)],
        )?;
        let created = select_webhook(&tx, &new.seller_id, &new.id)?;
        tx.commit()?;
        created
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt("the new webhook was not read back".into()))
    }

    fn list_webhooks(
        &self,
        seller: &SellerId,
        page: &WebhookPage,
    ) -> Result<Vec<Webhook>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks
             WHERE seller_id = ?1
               AND (?2 IS NULL OR (created_at, rowid) > (SELECT created_at, rowid FROM webhooks
                                                         WHERE id = ?2 AND seller_id = ?1))
             ORDER BY created_at, rowid
             LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![seller.0, page.after, page.limit], webhook_from_row)?;
        rows.map(|row| row?).collect()
    }

    fn get_webhook(&self, seller: &SellerId, id: &str) -> Result<Option<Webhook>, StoreError> {
        select_webhook(&self.conn(), seller, id)
    }

    fn update_webhook(
        &self,
        seller: &SellerId,
        id: &str,
        changes: &dyn Fn(&Webhook) -> WebhookChanges,
        now: u64,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(current) = select_webhook(&tx, seller, id)? else {
            return Ok(None);
        };
        let WebhookChanges {
            url,
            events,
            status,
        } = changes(&current);
        tx.execute(
            "UPDATE webhooks SET url = ?1, events = ?2, updated_at = ?3
             WHERE id = ?4 AND seller_id = ?5",
            params![
                url.unwrap_or(current.url),
                events_to_json(&events.unwrap_or(current.events)),
                secs(now),
                id,
                seller.0
            ],
        )?;
        match status {
            None => {}
            Some(StatusChange::Enable {
                requeue_at,
                requeue_failed_since,
            }) => {
                tx.execute(
                    "UPDATE webhooks SET status = 'active', consecutive_failures = 0,
                            disabled_at = NULL, disabled_reason = NULL
                     WHERE id = ?1",
                    params![id],
                )?;
                tx.execute(
                    "UPDATE deliveries SET status = 'pending', failures = 0,
                            first_attempt_at = NULL, next_attempt_at = ?1, finished_at = NULL
                     WHERE webhook_id = ?2
                       AND (status = 'pending'
                            OR (status = 'failed' AND finished_at >= ?3))",
                    params![secs(requeue_at), id, requeue_failed_since.map(secs)],
                )?;
            }
            Some(StatusChange::Disable { at, reason }) => {
                tx.execute(
                    "UPDATE webhooks SET status = 'disabled', disabled_at = ?1,
                            disabled_reason = ?2
                     WHERE id = ?3",
                    params![secs(at), reason, id],
                )?;
            }
        }
        let updated = select_webhook(&tx, seller, id)?;
        tx.commit()?;
        Ok(updated)
    }

    fn delete_webhook(&self, seller: &SellerId, id: &str) -> Result<bool, StoreError> {
        let deleted = self.conn().execute(
            "DELETE FROM webhooks WHERE id = ?1 AND seller_id = ?2",
            params![id, seller.0],
        )?;
        Ok(deleted > 0)
    }

    fn rotate_secret(
        &self,
        seller: &SellerId,
        id: &str,
        secret: Secret,
        public_key: Option<String>,
        now: u64,
        previous_until: u64,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(mut webhook) = select_webhook(&tx, seller, id)? else {
            return Ok(None);
        };
        // At most two live secrets: the new one, and the one it replaces for its grace.
        tx.execute(
            "DELETE FROM webhook_secrets WHERE webhook_id = ?1 AND expires_at IS NOT NULL",
            params![id],
        )?;
        tx.execute(
            "UPDATE webhook_secrets SET expires_at = ?2 WHERE webhook_id = ?1",
            params![id, secs(previous_until)],
        )?;
        tx.execute(
            "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES (?1, ?2, ?3)",
            params![id, secret.expose(), secs(now)],
        )?;
        tx.execute(
            "UPDATE webhooks SET updated_at = ?1, public_key = ?3 WHERE id = ?2",
            params![secs(now), id, public_key],
        )?;
        tx.commit()?;
        webhook.public_key = public_key;
        Ok(Some(webhook))
    }

    fn signing_secrets(&self, webhook_id: &str, now: u64) -> Result<Vec<Secret>, StoreError> {
        signing_secrets(&self.conn(), webhook_id, now)
    }

    fn reseal_secrets(&self, reseal: &Reseal<'_>) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare("SELECT rowid, webhook_id, secret FROM webhook_secrets")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut replaced = 0;
        for (rowid, webhook_id, stored) in rows {
            if let Some(new) = reseal(&webhook_id, &Secret::new(stored))? {
                tx.execute(
                    "UPDATE webhook_secrets SET secret = ?1 WHERE rowid = ?2",
                    params![new.expose(), rowid],
                )?;
                replaced += 1;
            }
        }
        tx.commit()?;
        Ok(replaced)
    }
}

/// The secrets `webhook_id` signs with at `now`, newest first (see
/// [`WebhookStore::signing_secrets`]).
pub(super) fn signing_secrets(
    conn: &Connection,
    webhook_id: &str,
    now: u64,
) -> Result<Vec<Secret>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT secret FROM webhook_secrets
         WHERE webhook_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY (expires_at IS NULL) DESC, created_at DESC, rowid DESC",
    )?;
    let rows = stmt.query_map(params![webhook_id, secs(now)], |row| {
        row.get::<_, String>(0).map(Secret::new)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
