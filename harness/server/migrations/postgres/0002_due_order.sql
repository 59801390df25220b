-- Version 2. Each endpoint's pending deliveries in exactly the order a claim takes them
-- (due time, then id). With the due time alone, `ORDER BY next_attempt_at, id LIMIT n`
-- read and sorted an endpoint's whole backlog on every claim (1,416 rows for 4 taken, in
-- a 2,000-event burst); in this order the scan stops after the rows it takes.
DROP INDEX deliveries_webhook_due;
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at, id)
WHERE status = 'pending';

-- The leases, indexed under the very condition the claims read them by (leased and
-- pending), per webhook: the planner no longer prefers walking every pending delivery
-- to find the few leased ones.
DROP INDEX deliveries_leased;
CREATE INDEX deliveries_leased ON deliveries (webhook_id, leased_until)
WHERE leased_until IS NOT NULL AND status = 'pending';
