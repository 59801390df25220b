//! The Postgres queue's own test: the order rule of results recorded together.

use std::sync::Arc;

use super::*;
use crate::store::conformance::{attempt_result, event, webhook};
use crate::store::testdb::TestDatabase;

/// Results for one webhook in one statement count as they would one by one, in the
/// order given (the failures after the last success), a stale one not at all; each
/// gets its own answer.
#[test]
fn one_statement_counts_results_in_the_order_given() -> Result<(), StoreError> {
    let database = TestDatabase::create().map_err(StoreError::Database)?;
    let store = PostgresStore::connect(database.url())?;
    webhook(&store, "wh_a", "sel_a")?;
    for i in 0..5 {
        store.publish_event(&event(&format!("evt_{i}"), "sel_a", 1_000))?;
    }
    let claims = store
        .claim_due(ClaimRequest {
            now: 1_000,
            lease_until: 1_100,
            log_ids: (0..5).map(|i| format!("log_{i}")).collect(),
            in_flight_limit: Arc::new(|_| usize::MAX),
            interrupted: Arc::new(|_| unreachable!("no lease lapses here")),
        })?
        .claims;
    assert_eq!(claims.len(), 5);
    let settles = [
        Settle::Retry(2_000),
        Settle::Delivered,
        Settle::Retry(2_000),
        Settle::Fail,
        Settle::Delivered,
    ];
    let mut results: Vec<AttemptResult> = (0u64..)
        .zip(claims.iter().zip(settles))
        .map(|(i, (claim, settle))| attempt_result(claim, settle, None, 1_001 + i))
        .collect();
    // The last no longer holds its claim: a success that must not count.
    results[4].attempt.id = "log_gone".into();
    let all: Vec<(&AttemptResult, Option<&NextLease>)> =
        results.iter().map(|r| (r, None)).collect();
    let (settled, _) = settle_all(&store.conn()?, &all)?;
    assert_eq!(settled, [true, true, true, true, false]);
    let conn = store.conn()?;
    let row = conn.query_one(
        "SELECT consecutive_failures, last_success_at FROM webhooks WHERE id = 'wh_a'",
        &[],
    )?;
    assert_eq!(
        row.try_get::<_, i64>(0)?,
        2,
        "the two failures after the success"
    );
    assert_eq!(row.try_get::<_, Option<i64>>(1)?, Some(1_002));
    let statuses: Vec<String> = conn
        .query("SELECT status FROM deliveries ORDER BY id", &[])?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        statuses,
        ["pending", "delivered", "pending", "failed", "pending"]
    );
    Ok(())
}
