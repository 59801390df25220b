//! Webhooks and their signing secrets on PostgreSQL ([`WebhookStore`]).

use postgres::Row;

use super::{count, secs, unsigned, Conn, PostgresStore};
use crate::store::model::{events_from_json, events_to_json};
use crate::store::{
    NewWebhook, Reseal, SellerId, StatusChange, StoreError, Webhook, WebhookChanges, WebhookPage,
    WebhookStore,
};
use menon_harness_common::ids::Secret;

const WEBHOOK_COLUMNS: &str = "id, seller_id, url, events::TEXT, status, created_at, updated_at, \
     consecutive_failures, disabled_at, disabled_reason, scheme, public_key";

fn webhook_from_row(row: &Row) -> Result<Webhook, StoreError> {
    let events: String = row.try_get(3)?;
    let status: String = row.try_get(4)?;
    Ok(Webhook {
        id: row.try_get(0)?,
        seller_id: SellerId(row.try_get(1)?),
        url: row.try_get(2)?,
        events: events_from_json(&events)?,
        status: status.parse()?,
        created_at: unsigned(row.try_get(5)?),
        updated_at: unsigned(row.try_get(6)?),
        consecutive_failures: count(row.try_get(7)?),
        disabled_at: row.try_get::<_, Option<i64>>(8)?.map(unsigned),
        disabled_reason: row.try_get(9)?,
        scheme: {
            let scheme: String = row.try_get(10)?;
            scheme
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("unknown webhook scheme {scheme:?}")))?
        },
        public_key: row.try_get(11)?,
    })
}

/// One of the seller's webhooks; `lock` takes its row lock until the transaction ends.
pub(super) fn select_webhook(
    conn: &Conn,
    seller: &SellerId,
    id: &str,
    lock: bool,
) -> Result<Option<Webhook>, StoreError> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND seller_id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    conn.query_opt(&sql, &[&id, &seller.0])?
        .map(|row| webhook_from_row(&row))
        .transpose()
}

impl WebhookStore for PostgresStore {
    fn create_webhook(&self, new: NewWebhook) -> Result<Option<Webhook>, StoreError> {
        self.transaction(|tx| {
            // Creations for one seller take turns (on every instance), so the count below
            // is still true when the insert lands.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('menon.webhooks:' || $1::TEXT, 0))",
                &[&new.seller_id.0],
            )?;
            let has: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM webhooks WHERE seller_id = $1",
                    &[&new.seller_id.0],
                )?
                .try_get(0)?;
            if unsigned(has) >= u64::from(new.seller_limit) {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO webhooks (id, seller_id, url, events, status, created_at, updated_at,
                                       scheme, public_key)
                 VALUES ($1, $2, $3, CAST($4::TEXT AS JSONB), 'active', $5, $5, $6, $7)",
                &[
                    &new.id,
                    &new.seller_id.0,
                    &new.url,
                    &events_to_json(&new.events),
                    &secs(new.now),
                    &new.scheme.as_str(),
                    &new.public_key,
                ],
            )?;
            tx.execute(
                "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES ($1, $2, $3)",
                &[&new.id, &new.secret.expose(), &secs(new.now)],
            )?;
            select_webhook(tx, &new.seller_id, &new.id, false)?
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt("the new webhook was not read back".into()))
        })
    }

    fn list_webhooks(
        &self,
        seller: &SellerId,
        page: &WebhookPage,
    ) -> Result<Vec<Webhook>, StoreError> {
        self.conn()?
            .query_planned_per_call(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks
                     WHERE seller_id = $1
                       AND ($2::TEXT IS NULL OR (created_at, seq) > (
                            SELECT created_at, seq FROM webhooks WHERE id = $2 AND seller_id = $1))
                     ORDER BY created_at, seq
                     LIMIT $3"
                ),
                &[&seller.0, &page.after, &i64::from(page.limit)],
            )?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    fn get_webhook(&self, seller: &SellerId, id: &str) -> Result<Option<Webhook>, StoreError> {
        select_webhook(&self.conn()?, seller, id, false)
    }

    fn update_webhook(
        &self,
        seller: &SellerId,
        id: &str,
        changes: &dyn Fn(&Webhook) -> WebhookChanges,
        now: u64,
    ) -> Result<Option<Webhook>, StoreError> {
        self.transaction(|tx| {
            // The row lock: no other instance's write to the webhook lands between the
            // read and the write, so the change is decided on the row it applies to.
            let Some(current) = select_webhook(tx, seller, id, true)? else {
                return Ok(None);
            };
            let WebhookChanges {
                url,
                events,
                status,
            } = changes(&current);
            tx.execute(
                "UPDATE webhooks SET url = $1, events = CAST($2::TEXT AS JSONB), updated_at = $3
                 WHERE id = $4 AND seller_id = $5",
                &[
                    &url.unwrap_or(current.url),
                    &events_to_json(&events.unwrap_or(current.events)),
                    &secs(now),
                    &id,
                    &seller.0,
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
                         WHERE id = $1",
                        &[&id],
                    )?;
                    tx.execute(
                        "UPDATE deliveries SET status = 'pending', failures = 0,
                                first_attempt_at = NULL, next_attempt_at = $1, finished_at = NULL
                         WHERE webhook_id = $2
                           AND (status = 'pending'
                                OR (status = 'failed' AND finished_at >= $3::BIGINT))",
                        &[&secs(requeue_at), &id, &requeue_failed_since.map(secs)],
                    )?;
                }
                Some(StatusChange::Disable { at, reason }) => {
                    tx.execute(
                        "UPDATE webhooks SET status = 'disabled', disabled_at = $1,
                                disabled_reason = $2
                         WHERE id = $3",
                        &[&secs(at), &reason, &id],
                    )?;
                }
            }
            select_webhook(tx, seller, id, false)
        })
    }

    fn delete_webhook(&self, seller: &SellerId, id: &str) -> Result<bool, StoreError> {
        let deleted = self.conn()?.execute(
            "DELETE FROM webhooks WHERE id = $1 AND seller_id = $2",
            &[&id, &seller.0],
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
        self.transaction(|tx| {
            let Some(mut webhook) = select_webhook(tx, seller, id, true)? else {
                return Ok(None);
            };
            // At most two live secrets: the new one, and the one it replaces for its grace.
            tx.execute(
                "DELETE FROM webhook_secrets WHERE webhook_id = $1 AND expires_at IS NOT NULL",
                &[&id],
            )?;
            tx.execute(
                "UPDATE webhook_secrets SET expires_at = $2 WHERE webhook_id = $1",
                &[&id, &secs(previous_until)],
            )?;
            tx.execute(
                "INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES ($1, $2, $3)",
                &[&id, &secret.expose(), &secs(now)],
            )?;
            tx.execute(
                "UPDATE webhooks SET updated_at = $1, public_key = $3 WHERE id = $2",
                &[&secs(now), &id, &public_key],
            )?;
            webhook.public_key = public_key.clone();
            Ok(Some(webhook))
        })
    }

    fn signing_secrets(&self, webhook_id: &str, now: u64) -> Result<Vec<Secret>, StoreError> {
        signing_secrets(&self.conn()?, webhook_id, now)
    }

    fn reseal_secrets(&self, reseal: &Reseal<'_>) -> Result<u64, StoreError> {
        self.transaction(|tx| {
            // Locked: an instance sealing at start and a rotation never both rewrite a row.
            let rows = tx.query(
                "SELECT webhook_id, secret FROM webhook_secrets FOR UPDATE",
                &[],
            )?;
            let mut replaced = 0;
            for row in rows {
                let (webhook_id, stored): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                if let Some(new) = reseal(&webhook_id, &Secret::new(stored.clone()))? {
                    tx.execute(
                        "UPDATE webhook_secrets SET secret = $1 WHERE webhook_id = $2 AND secret = $3",
                        &[&new.expose(), &webhook_id, &stored],
                    )?;
                    replaced += 1;
                }
            }
            Ok(replaced)
        })
    }
}

/// The secrets `webhook_id` signs with at `now`, newest first (see
/// [`WebhookStore::signing_secrets`]).
pub(super) fn signing_secrets(
    conn: &Conn,
    webhook_id: &str,
    now: u64,
) -> Result<Vec<Secret>, StoreError> {
    conn.query(
        "SELECT secret FROM webhook_secrets
         WHERE webhook_id = $1 AND (expires_at IS NULL OR expires_at > $2)
         ORDER BY (expires_at IS NULL) DESC, created_at DESC, seq DESC",
        &[&webhook_id, &secs(now)],
    )?
    .iter()
    .map(|row| Ok(Secret::new(row.try_get(0)?)))
    .collect()
}
