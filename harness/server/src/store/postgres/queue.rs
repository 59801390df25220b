//! Events and the durable delivery queue on PostgreSQL ([`QueueStore`]), for several
//! server instances at once: publishing, claims as fenced leases that concurrent
//! instances never share, persisting what the dispatcher's policy decided.

use std::sync::Arc;

use postgres::types::ToSql;
use postgres::Row;
use tokio::sync::Notify;

use super::events;
use super::logs::ATTEMPT_COLUMNS;
use super::{count, secs, unsigned, Conn, PostgresStore};
use crate::store::turns::{claim_in_turns, next_due, EndpointQueue, Turn};
use crate::store::{
    AttemptResult, Claim, ClaimRequest, Claimed, EventPage, Finished, NextLease, QueueStore,
    SellerId, Settle, StoreError, StoredEvent,
};
use menon_harness_common::delivery::SigningScheme;
use menon_harness_common::ids::Secret;

/// Rows per statement when loading events in bulk.
const BULK_ROWS: usize = 5_000;

/// What a claim reads, `$1` being now; [`claim_from_row`] reads these and then the log
/// id and the claim's time.
const CLAIM_COLUMNS: &str = "d.id, d.attempts, d.failures, w.id, w.seller_id, w.url,
    e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
    COALESCE(d.first_attempt_at, $1), w.last_success_at";

fn claim_from_row(row: &Row) -> Result<Claim, StoreError> {
    // The attempt this row is about (just leased, or lapsed) was counted when it was
    // claimed: its retry count is the attempts before it.
    let attempts = row.try_get::<_, i64>(1)? - 1;
    let log_id: String = row.try_get(14)?;
    Ok(Claim {
        delivery_id: row.try_get(0)?,
        log_id,
        webhook_id: row.try_get(3)?,
        seller_id: SellerId(row.try_get(4)?),
        url: row.try_get(5)?,
        event: StoredEvent {
            id: row.try_get(6)?,
            seller_id: SellerId(row.try_get(7)?),
            event_type: row.try_get(8)?,
            created_at: unsigned(row.try_get(9)?),
            body: row.try_get(10)?,
            is_test: row.try_get(11)?,
        },
        retry_count: count(attempts),
        failures: count(row.try_get(2)?),
        claimed_at: unsigned(row.try_get(15)?),
        first_attempt_at: unsigned(row.try_get(12)?),
        last_success_at: row.try_get::<_, Option<i64>>(13)?.map(unsigned),
        secrets: Vec::new(),
        scheme: SigningScheme::Menon,
    })
}

/// Records a claimed attempt's result in the caller's transaction, fenced by the
/// claim's token (see [`QueueStore::finish_attempt`]), then the disabling if asked for.
fn settle(conn: &Conn, r: &AttemptResult) -> Result<Finished, StoreError> {
    if !settle_all(conn, &[(r, None)])?.0[0] {
        return Ok(Finished::Stale);
    }
    let mut disabled = false;
    if let Some(disable) = &r.disable {
        // A compare-and-set: a success recorded since `unless_success_since` (by
        // another worker or instance, a manual retry) vetoes the disabling.
        disabled = conn.execute(
            "UPDATE webhooks SET status = 'disabled', disabled_at = $1, disabled_reason = $2
             WHERE id = $3 AND status = 'active'
               AND ($4::BIGINT IS NULL OR last_success_at IS NULL OR last_success_at < $4)",
            &[
                &secs(r.finished_at),
                &disable.reason,
                &r.attempt.webhook_id,
                &disable.unless_success_since.map(secs),
            ],
        )? > 0;
    }
    Ok(Finished::Settled { disabled })
}

/// Records attempts' results (their `disable` aside: see [`settle`]) in one statement,
/// each fenced by its claim's token: for each, whether it still held its claim (settled)
/// or not (stale: only its log row is completed). The webhooks' counts take the results
/// in the order given: a webhook's consecutive failures are those after its last success
/// among them, or its count so far plus them all if none succeeded; the latest success
/// is kept.
///
/// In the same statement, so that no claim ever sees a lease ended and its successor not
/// yet begun, each result given a [`NextLease`] that was delivered, settled and whose
/// lease had not run out takes its webhook's next due delivery (see
/// [`QueueStore::finish_and_take_next`]): the results of one webhook take, oldest due
/// first, one under each of their tokens in order, as one turn of a claim would, at the
/// latest `now` asked for.
fn settle_all(
    conn: &Conn,
    results: &[(&AttemptResult, Option<&NextLease>)],
) -> Result<(Vec<bool>, Vec<Option<Claim>>), StoreError> {
    let kind = |r: &AttemptResult| match r.settle {
        Settle::Delivered => "delivered",
        Settle::Retry(_) => "retry",
        Settle::Fail => "fail",
    };
    let column = |f: &dyn Fn(&AttemptResult) -> Option<i64>| -> Vec<Option<i64>> {
        results.iter().map(|(r, _)| f(r)).collect()
    };
    let deliveries: Vec<i64> = results.iter().map(|(r, _)| r.delivery_id).collect();
    let tokens: Vec<&str> = results.iter().map(|(r, _)| r.attempt.id.as_str()).collect();
    let webhooks: Vec<&str> = results
        .iter()
        .map(|(r, _)| r.attempt.webhook_id.as_str())
        .collect();
    let kinds: Vec<&str> = results.iter().map(|(r, _)| kind(r)).collect();
    let next = column(&|r| match r.settle {
        Settle::Retry(next) => Some(secs(next)),
        _ => None,
    });
    let at = column(&|r| Some(secs(r.finished_at)));
    let statuses: Vec<&str> = results
        .iter()
        .map(|(r, _)| r.attempt.status.as_str())
        .collect();
    let codes = column(&|r| r.attempt.response_code.map(i64::from));
    let times = column(&|r| r.attempt.response_time_ms.map(secs));
    let delivered = column(&|r| r.attempt.delivered_at.map(secs));
    let errors: Vec<Option<&str>> = results
        .iter()
        .map(|(r, _)| r.attempt.error.as_deref())
        .collect();
    let stale: Vec<&str> = results
        .iter()
        .map(|(r, _)| r.stale_error.as_str())
        .collect();
    let retries = column(&|r| r.attempt.next_retry.map(secs));
    let next_tokens: Vec<Option<&str>> = results
        .iter()
        .map(|(_, next)| next.map(|n| n.log_id.as_str()))
        .collect();
    // The next leases are taken at the latest `now` asked for, until the latest end.
    let asked = || results.iter().filter_map(|(_, next)| *next);
    let now = asked().map(|n| n.now).max().unwrap_or(0);
    let until = asked().map(|n| n.lease_until).max().unwrap_or(0);
    let rows = conn.query(
        &format!(
            "WITH r AS (
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[],
                                      $5::BIGINT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[],
                                      $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[],
                                      $13::BIGINT[], $14::TEXT[])
                     WITH ORDINALITY AS r (delivery_id, token, webhook_id, kind, next, at,
                                           status, code, ms, delivered_at, error,
                                           stale_error, next_retry, next_token, n)
             ), held AS (
                 -- The leases as they were: only one still running when the result
                 -- came in is handed on (a lapsed one may already have been counted
                 -- free by a claim, which then filled its room).
                 SELECT d.id FROM deliveries d
                 WHERE d.id = ANY($1) AND d.leased_until > $15
             ), settled AS (
                 UPDATE deliveries d SET
                     status = CASE r.kind WHEN 'delivered' THEN 'delivered'
                                          WHEN 'fail' THEN 'failed' ELSE d.status END,
                     failures = d.failures + CASE WHEN r.kind = 'delivered' THEN 0 ELSE 1 END,
                     next_attempt_at = CASE WHEN r.kind = 'retry' THEN r.next
                                            ELSE d.next_attempt_at END,
                     finished_at = CASE WHEN r.kind = 'retry' THEN d.finished_at
                                        ELSE r.at END,
                     leased_until = NULL, lease_token = NULL
                 FROM r
                 -- `= ANY` as well as the join: an index lookup of the rows given,
                 -- whatever the planner believes of the tables' sizes (a fresh table
                 -- has no statistics). The status is tested in a form no index
                 -- matches: a plain `status = 'pending'` lets a plan cached while the
                 -- queue was short walk the partial index of every pending delivery.
                 WHERE d.id = ANY($1) AND d.id = r.delivery_id
                   AND COALESCE(d.status = 'pending', false) AND d.lease_token = r.token
                 RETURNING r.n, r.webhook_id, r.kind, r.at, r.next_token, d.id
             ), logged AS (
                 UPDATE delivery_attempts a SET status = r.status, response_code = r.code,
                     response_time_ms = r.ms, delivered_at = r.delivered_at,
                     error = CASE WHEN s.n IS NULL THEN r.stale_error ELSE r.error END,
                     next_retry = CASE WHEN s.n IS NOT NULL THEN r.next_retry END
                 FROM r LEFT JOIN settled s ON s.n = r.n
                 WHERE a.id = ANY($2) AND a.id = r.token
                 RETURNING a.id
             ), ordered AS (
                 SELECT webhook_id, kind, at, n,
                        MAX(n) FILTER (WHERE kind = 'delivered')
                            OVER (PARTITION BY webhook_id) AS last_success
                 FROM settled
             ), tally AS (
                 SELECT webhook_id, MAX(at) FILTER (WHERE kind = 'delivered') AS success_at,
                        COUNT(*) FILTER (WHERE kind <> 'delivered'
                                           AND (last_success IS NULL OR n > last_success))
                            AS failed
                 FROM ordered GROUP BY webhook_id
             ), counted AS (
                 UPDATE webhooks w SET
                     consecutive_failures = CASE WHEN t.success_at IS NULL
                                                 THEN w.consecutive_failures + t.failed
                                                 ELSE t.failed END,
                     last_success_at = GREATEST(w.last_success_at, t.success_at)
                 FROM tally t
                 WHERE w.id = ANY($3) AND w.id = t.webhook_id
                   -- Successes change the row only when they say something new (the
                   -- first success of a second, or one after failures): the webhook's row
                   -- is not a lock every delivery to it queues behind.
                   AND (t.failed > 0 OR w.consecutive_failures <> 0
                        OR w.last_success_at IS NULL OR w.last_success_at < t.success_at)
                 RETURNING w.id
             ), turns AS (
                 SELECT webhook_id, MIN(n) AS turn, COUNT(*) AS wanted,
                        array_agg(next_token ORDER BY n) AS tokens
                 FROM settled
                 WHERE kind = 'delivered' AND next_token IS NOT NULL
                   AND id IN (SELECT id FROM held)
                 GROUP BY webhook_id
             ), picked AS (
                 SELECT p.id, p.next_attempt_at, t.turn, t.tokens
                 FROM turns t CROSS JOIN LATERAL ({due}) p
             ), numbered AS (
                 SELECT id, turn, tokens[k] AS token, k
                 FROM (SELECT id, turn, tokens, row_number()
                              OVER (PARTITION BY turn ORDER BY next_attempt_at, id) AS k
                       FROM picked) n
             ), {leased}
             SELECT c.*, f.settled
             FROM (SELECT array_agg(s.n IS NOT NULL ORDER BY r.n) AS settled
                   FROM r LEFT JOIN settled s ON s.n = r.n) f
             LEFT JOIN ({claims}) c ON true",
            due = due_of("t", "$15"),
            leased = lease("$15", "$16"),
            // The webhook's row as this statement found it, before the successes it
            // records: the new claims see them all the same.
            claims = claims(
                "GREATEST(w.last_success_at, \
                 (SELECT t.success_at FROM tally t WHERE t.webhook_id = w.id))"
            ),
        ),
        &[
            &deliveries,
            &tokens,
            &webhooks,
            &kinds,
            &next,
            &at,
            &statuses,
            &codes,
            &times,
            &delivered,
            &errors,
            &stale,
            &retries,
            &next_tokens,
            &secs(now),
            &secs(until),
        ],
    )?;
    let mut settled = Vec::new();
    let mut taken: Vec<Option<Claim>> = results.iter().map(|_| None).collect();
    for row in &rows {
        settled = row.try_get::<_, Vec<bool>>(CLAIM_WIDTH)?;
        if row.try_get::<_, Option<i64>>(0)?.is_none() {
            continue; // no lease taken
        }
        let (_, claim) = leased_claim(row)?;
        let asked = results
            .iter()
            .position(|(_, next)| next.is_some_and(|n| n.log_id == claim.log_id));
        if let Some(i) = asked {
            taken[i] = Some(claim);
        }
    }
    if settled.len() != results.len() {
        return Err(StoreError::Corrupt(format!(
            "{} results recorded as {} outcomes",
            results.len(),
            settled.len()
        )));
    }
    Ok((settled, taken))
}

/// The queues at `now` of the active webhooks with deliveries pending, found by walking
/// `deliveries_webhook_due` from one webhook to the next (a skip scan: its cost grows
/// with the webhooks that have deliveries pending, not with their queues nor with idle
/// webhooks), each with its room (every unexpired lease counts, whichever instance holds
/// it); also how many leases have run out, and when the first lease runs out. One
/// statement, read after the claim lock: no other instance's claim lands in between.
struct Queues {
    queues: Vec<EndpointQueue>,
    lapsed: i64,
    lease_end: Option<u64>,
}

fn endpoint_queues(
    conn: &Conn,
    now: u64,
    in_flight_limit: &dyn Fn(u32) -> usize,
) -> Result<Queues, StoreError> {
    let rows = conn.query(
        "WITH RECURSIVE pending (webhook_id) AS (
             (SELECT webhook_id FROM deliveries WHERE status = 'pending'
              ORDER BY webhook_id LIMIT 1)
             UNION ALL
             SELECT (SELECT d.webhook_id FROM deliveries d
                     WHERE d.status = 'pending' AND d.webhook_id > p.webhook_id
                     ORDER BY d.webhook_id LIMIT 1)
             FROM pending p WHERE p.webhook_id IS NOT NULL
         ), leases AS (
             SELECT d.webhook_id,
                    COUNT(*) FILTER (WHERE d.leased_until > $1) AS held,
                    COUNT(*) FILTER (WHERE d.leased_until <= $1) AS lapsed,
                    MIN(GREATEST(d.next_attempt_at, d.leased_until)) AS lease_end
             FROM deliveries d
             WHERE d.leased_until IS NOT NULL AND d.status = 'pending'
             GROUP BY d.webhook_id
         )
         SELECT w.id, w.consecutive_failures,
                (SELECT d.next_attempt_at FROM deliveries d
                 WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.leased_until IS NULL
                 ORDER BY d.next_attempt_at, d.id LIMIT 1),
                COALESCE(l.held, 0), COALESCE(l.lapsed, 0), l.lease_end
         FROM pending p JOIN webhooks w ON w.id = p.webhook_id
         LEFT JOIN leases l ON l.webhook_id = w.id
         WHERE w.status = 'active'",
        &[&secs(now)],
    )?;
    let mut found = Queues {
        queues: Vec::with_capacity(rows.len()),
        lapsed: 0,
        lease_end: None,
    };
    for row in &rows {
        found.lapsed += row.try_get::<_, i64>(4)?;
        if let Some(end) = row.try_get::<_, Option<i64>>(5)? {
            let end = unsigned(end);
            found.lease_end = Some(found.lease_end.map_or(end, |e| e.min(end)));
        }
        let Some(head) = row.try_get::<_, Option<i64>>(2)? else {
            continue;
        };
        let limit = in_flight_limit(count(row.try_get(1)?));
        let held = usize::try_from(row.try_get::<_, i64>(3)?).unwrap_or(usize::MAX);
        found.queues.push(EndpointQueue::new(
            row.try_get(0)?,
            unsigned(head),
            limit,
            held,
        ));
    }
    Ok(found)
}

/// Takes a round of turns (see `turns.rs`): for each, leases up to its number of tokens
/// of its webhook's due deliveries at `now` (not leased, not locked by another claim,
/// oldest due first), one under each token in order; counts the attempts, logs them as
/// `pending` and reads what they need, the webhooks' signing secrets included. One
/// statement for the whole round: a claim's cost is its round trips.
fn take(
    conn: &Conn,
    now: u64,
    lease_until: u64,
    turns: &[Turn<'_>],
) -> Result<Vec<Vec<Claim>>, StoreError> {
    let webhooks: Vec<&str> = turns.iter().map(|(webhook, _)| *webhook).collect();
    let wanted: Vec<i64> = turns
        .iter()
        .map(|(_, tokens)| i64::try_from(tokens.len()).unwrap_or(i64::MAX))
        .collect();
    // Each turn's first token, as a 1-based index into all the round's tokens.
    let mut firsts = Vec::with_capacity(turns.len());
    let mut tokens: Vec<&str> = Vec::new();
    for (_, own) in turns {
        firsts.push(i64::try_from(tokens.len() + 1).unwrap_or(i64::MAX));
        tokens.extend(own.iter().map(String::as_str));
    }
    let rows = conn.query(
        &format!(
            "WITH picked AS (
                 SELECT p.id, p.next_attempt_at, t.turn, t.first
                 FROM unnest($2::TEXT[], $3::BIGINT[], $4::BIGINT[])
                      WITH ORDINALITY AS t (webhook_id, wanted, first, turn)
                 CROSS JOIN LATERAL ({due}) p
             ), numbered AS (
                 SELECT id, turn, ($6::TEXT[])[k] AS token, k
                 FROM (SELECT id, turn, first - 1 + row_number()
                              OVER (PARTITION BY turn ORDER BY next_attempt_at, id) AS k
                       FROM picked) n
             ), {leased}
             {claims}",
            due = due_of("t", "$1"),
            leased = lease("$1", "$5"),
            claims = claims("w.last_success_at"),
        ),
        &[
            &secs(now),
            &webhooks,
            &wanted,
            &firsts,
            &secs(lease_until),
            &tokens,
        ],
    )?;
    let mut round: Vec<Vec<Claim>> = turns.iter().map(|_| Vec::new()).collect();
    for row in &rows {
        let (turn, claim) = leased_claim(row)?;
        round
            .get_mut(turn.wrapping_sub(1))
            .ok_or_else(|| StoreError::Corrupt(format!("a claim of unknown turn {turn}")))?
            .push(claim);
    }
    Ok(round)
}

/// The due deliveries of the turn `t` (`t.webhook_id`, `t.wanted`) at `now`, to be
/// leased: not leased, not locked by another claim, oldest due first; none once the
/// webhook is disabled (an API call does not take the claim lock).
fn due_of(t: &str, now: &str) -> String {
    format!(
        "SELECT d.id, d.next_attempt_at FROM deliveries d
         WHERE d.webhook_id = {t}.webhook_id AND d.status = 'pending'
           AND d.next_attempt_at <= {now} AND d.leased_until IS NULL
           AND EXISTS (SELECT 1 FROM webhooks a
                       WHERE a.id = {t}.webhook_id AND a.status = 'active')
         ORDER BY d.next_attempt_at, d.id
         LIMIT {t}.wanted
         FOR UPDATE SKIP LOCKED"
    )
}

/// Leases the deliveries of `numbered` (`id`, `token`, `k` their order, `turn`) at `now`
/// until `until`, counts the attempts and logs them as `pending`: the CTEs `leased`
/// (which [`claims`] reads) and `logged_lease`.
fn lease(now: &str, until: &str) -> String {
    format!(
        "leased AS (
             UPDATE deliveries d SET leased_until = {until}, lease_token = numbered.token,
                    attempts = d.attempts + 1,
                    first_attempt_at = COALESCE(d.first_attempt_at, {now})
             FROM numbered WHERE d.id = numbered.id
             RETURNING d.id, d.event_id, d.webhook_id, d.attempts, d.failures,
                       d.first_attempt_at, d.lease_token, numbered.k, numbered.turn,
                       {now}::BIGINT AS claimed_at
         ), logged_lease AS (
             INSERT INTO delivery_attempts ({ATTEMPT_COLUMNS}, delivery_id)
             SELECT l.lease_token, w.id, w.seller_id, e.id, e.type, 'pending',
                    NULL, NULL, NULL, NULL, l.attempts - 1, NULL, l.claimed_at, l.id
             FROM leased l JOIN webhooks w ON w.id = l.webhook_id
             JOIN events e ON e.id = l.event_id
         )"
    )
}

/// What each new lease (the CTE `leased`) needs: [`CLAIM_COLUMNS`]' values (the
/// webhook's last success being `last_success`), then the lease's token, its time, the
/// webhook's live secrets, its turn and its scheme ([`leased_claim`] reads them).
fn claims(last_success: &str) -> String {
    format!(
        "SELECT l.id, l.attempts, l.failures, w.id, w.seller_id, w.url,
                e.id, e.seller_id, e.type, e.created_at, e.body, e.is_test,
                l.first_attempt_at, {last_success}, l.lease_token, l.claimed_at,
                ARRAY(SELECT s.secret FROM webhook_secrets s
                      WHERE s.webhook_id = w.id
                        AND (s.expires_at IS NULL OR s.expires_at > l.claimed_at)
                      ORDER BY (s.expires_at IS NULL) DESC, s.created_at DESC, s.seq DESC),
                l.turn, w.scheme
         FROM leased l JOIN webhooks w ON w.id = l.webhook_id
         JOIN events e ON e.id = l.event_id
         ORDER BY l.k"
    )
}

/// The columns [`claims`] answers.
const CLAIM_WIDTH: usize = 19;

/// A row of [`claims`]: its turn, and the claim.
fn leased_claim(row: &Row) -> Result<(usize, Claim), StoreError> {
    // The row's attempts count the one just leased: `claim_from_row` takes it off.
    let mut claim = claim_from_row(row)?;
    claim.secrets = row
        .try_get::<_, Vec<String>>(16)?
        .into_iter()
        .map(Secret::new)
        .collect();
    let scheme: String = row.try_get(18)?;
    claim.scheme = scheme
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown webhook scheme {scheme:?}")))?;
    let turn = usize::try_from(row.try_get::<_, i64>(17)?).unwrap_or(0);
    Ok((turn, claim))
}

/// When the first lease of an active webhook's pending delivery runs out (or its
/// delivery is due, if later): a lapse the next claim records.
fn next_lease_end(conn: &Conn) -> Result<Option<u64>, StoreError> {
    let end: Option<i64> = conn
        .query_one(
            "SELECT MIN(GREATEST(d.next_attempt_at, d.leased_until))
             FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.leased_until IS NOT NULL AND d.status = 'pending' AND w.status = 'active'",
            &[],
        )?
        .try_get(0)?;
    Ok(end.map(unsigned))
}

/// Claims due deliveries in the caller's transaction (see [`QueueStore::claim_due`]).
fn claim(conn: &Conn, request: &ClaimRequest) -> Result<Claimed, StoreError> {
    let now = request.now;
    let mut found = endpoint_queues(conn, now, request.in_flight_limit.as_ref())?;
    if found.lapsed > 0 {
        // Lapsed claims first (an instance died mid-attempt): each recorded as the
        // caller decided, fenced by its token like any result; then the queues again.
        let lapsed = conn
            .query(
                &format!(
                    "SELECT {CLAIM_COLUMNS}, d.lease_token, a.created_at
                     FROM deliveries d
                     JOIN webhooks w ON w.id = d.webhook_id
                     JOIN events e ON e.id = d.event_id
                     JOIN delivery_attempts a ON a.id = d.lease_token
                     WHERE d.leased_until IS NOT NULL AND d.leased_until <= $1
                       AND d.status = 'pending' AND w.status = 'active'
                     ORDER BY d.leased_until, d.id
                     FOR UPDATE OF d SKIP LOCKED"
                ),
                &[&secs(now)],
            )?
            .iter()
            .map(claim_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for claim in &lapsed {
            settle(conn, &(request.interrupted)(claim))?;
        }
        found = endpoint_queues(conn, now, request.in_flight_limit.as_ref())?;
    }
    let mut queues = found.queues;
    let claims = claim_in_turns(&mut queues, now, &request.log_ids, |turns| {
        take(conn, now, request.lease_until, turns)
    })?;
    let next_due = if claims.is_empty() {
        next_due(&queues, found.lease_end)
    } else {
        Some(now)
    };
    Ok(Claimed { claims, next_due })
}

/// Taken first by every claim, until its transaction ends: claims from all instances
/// (and from this one's concurrent calls) run one at a time, so each reads the leases the
/// one before it took and no endpoint's in-flight limit is exceeded. Sent with `BEGIN`, in
/// one round trip; keyed by schema.
const CLAIM_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('menon claims in ' || current_schema()))";

/// Inserts an event, its columns bound as [`event_params`] binds them; `publish_event`
/// runs it inside a statement of its own.
const INSERT_EVENT: &str = "INSERT INTO events (id, seller_id, type, created_at, body, is_test)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// `$1`-`$6` of [`INSERT_EVENT`]; `created_at` is the event's time as stored.
fn event_params<'a>(event: &'a StoredEvent, created_at: &'a i64) -> [&'a (dyn ToSql + Sync); 6] {
    [
        &event.id,
        &event.seller_id.0,
        &event.event_type,
        created_at,
        &event.body,
        &event.is_test,
    ]
}

impl QueueStore for PostgresStore {
    fn insert_event(&self, event: &StoredEvent) -> Result<(), StoreError> {
        let created_at = secs(event.created_at);
        self.conn()?
            .execute(INSERT_EVENT, &event_params(event, &created_at))?;
        Ok(())
    }

    fn publish_event(&self, event: &StoredEvent) -> Result<usize, StoreError> {
        // One statement, so one round trip and one commit: the event, and a delivery to
        // each active webhook of its seller subscribed to its type.
        let created_at = secs(event.created_at);
        let queued = self.conn()?.execute(
            &format!(
                "WITH event AS ({INSERT_EVENT} RETURNING id)
                 INSERT INTO deliveries (event_id, webhook_id, status, next_attempt_at, created_at)
                 SELECT event.id, w.id, 'pending', $4, $4
                 FROM event, webhooks w
                 WHERE w.seller_id = $2 AND w.status = 'active' AND w.events ? $3
                 ORDER BY w.created_at, w.seq"
            ),
            &event_params(event, &created_at),
        )?;
        if queued > 0 {
            self.announce_publish();
        }
        Ok(usize::try_from(queued).unwrap_or(usize::MAX))
    }

    fn queue_events_for(
        &self,
        events: &[StoredEvent],
        webhook_id: &str,
        due_at: u64,
    ) -> Result<usize, StoreError> {
        self.transaction(|tx| {
            for chunk in events.chunks(BULK_ROWS) {
                let ids: Vec<&str> = chunk.iter().map(|e| e.id.as_str()).collect();
                let sellers: Vec<&str> = chunk.iter().map(|e| e.seller_id.0.as_str()).collect();
                let types: Vec<&str> = chunk.iter().map(|e| e.event_type.as_str()).collect();
                let created: Vec<i64> = chunk.iter().map(|e| secs(e.created_at)).collect();
                let bodies: Vec<&[u8]> = chunk.iter().map(|e| e.body.as_slice()).collect();
                let tests: Vec<bool> = chunk.iter().map(|e| e.is_test).collect();
                tx.execute(
                    "INSERT INTO events (id, seller_id, type, created_at, body, is_test)
                     SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[],
                                          $5::BYTEA[], $6::BOOLEAN[])",
                    &[&ids, &sellers, &types, &created, &bodies, &tests],
                )?;
                tx.execute(
                    "INSERT INTO deliveries (event_id, webhook_id, status, next_attempt_at,
                                             created_at)
                     SELECT u.id, $1, 'pending', $2, u.created_at
                     FROM unnest($3::TEXT[], $4::BIGINT[]) AS u (id, created_at)",
                    &[&webhook_id, &secs(due_at), &ids, &created],
                )?;
            }
            Ok(events.len())
        })
        .inspect(|&queued| {
            if queued > 0 {
                self.announce_publish();
            }
        })
    }

    fn claim_due(&self, request: ClaimRequest) -> Result<Claimed, StoreError> {
        // Most claims that a publish wakes find every endpoint with a due delivery at its
        // limit (its workers go on with its next deliveries themselves): they read the
        // queues once, without the claim lock, and end there. Only a claim that may take
        // something (room at a due queue, or a lease that ran out) waits for the lock and
        // reads again under it. Room that frees after the read is no different from room
        // that frees just after a locked claim: the attempt that frees it wakes its
        // dispatcher.
        let found = endpoint_queues(&self.conn()?, request.now, request.in_flight_limit.as_ref())?;
        if found.lapsed == 0 && !found.queues.iter().any(|q| q.open(request.now)) {
            return Ok(Claimed {
                claims: Vec::new(),
                next_due: next_due(&found.queues, found.lease_end),
            });
        }
        self.transaction_after(CLAIM_LOCK, |tx| claim(tx, &request))
    }

    /// Records `r` and, with `next`, takes its webhook's next due delivery (see
    /// [`QueueStore::finish_and_take_next`]). A result that disables its webhook: its
    /// statement, then the disabling, in a transaction. Every other result shares one
    /// statement (and its commit) with the results that arrive while the one before is
    /// being written (`store::group`), with the next leases they ask for.
    fn finish_and_take_next(
        &self,
        r: &AttemptResult,
        next: Option<NextLease>,
    ) -> Result<(Finished, Option<Claim>), StoreError> {
        if r.disable.is_some() {
            return Ok((self.transaction(|tx| settle(tx, r))?, None));
        }
        self.settles.write((r.clone(), next), |group, outcomes| {
            let results: Vec<(&AttemptResult, Option<&NextLease>)> = group
                .iter()
                .map(|(_, (r, next))| (r, next.as_ref()))
                .collect();
            // One statement, committed or not as a whole: no fallback that could
            // record its results twice.
            let recorded = self
                .conn()
                .and_then(|conn| super::retrying(|| settle_all(&conn, &results)));
            match recorded {
                Ok((settled, mut next)) => {
                    for (i, ((_, outcome), settled)) in outcomes.iter_mut().zip(settled).enumerate()
                    {
                        let finished = if settled {
                            Finished::Settled { disabled: false }
                        } else {
                            Finished::Stale
                        };
                        *outcome = Ok((finished, next[i].take()));
                    }
                }
                Err(e) => {
                    for (_, outcome) in outcomes.iter_mut() {
                        *outcome = Err(e.clone());
                    }
                }
            }
        })
    }

    fn prefers_next_lease(&self) -> bool {
        true
    }

    fn list_events(
        &self,
        seller: &SellerId,
        page: &EventPage,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::list_events(&self.conn()?, seller, page)
    }

    fn purge_settled(&self, before: u64, batch: u32) -> Result<u32, StoreError> {
        events::purge_settled(&self.conn()?, before, batch)
    }

    fn next_due(&self) -> Result<Option<u64>, StoreError> {
        let conn = self.conn()?;
        let unleased: Option<i64> = conn
            .query_one(
                "SELECT MIN(d.next_attempt_at)
                 FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.status = 'pending' AND d.leased_until IS NULL AND w.status = 'active'",
                &[],
            )?
            .try_get(0)?;
        let leased = next_lease_end(&conn)?;
        Ok(match (unleased.map(unsigned), leased) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn queue_depth(&self) -> Result<u64, StoreError> {
        // Kept by a trigger as deliveries change, over a few shards (see the migration).
        let n: i64 = self
            .conn()?
            .query_one(
                "SELECT COALESCE(SUM(pending), 0)::BIGINT FROM queue_depth",
                &[],
            )?
            .try_get(0)?;
        Ok(unsigned(n))
    }

    fn watch_publishes(&self, wake: Arc<Notify>) {
        self.listen(wake);
    }
}

#[cfg(test)]
mod tests;
