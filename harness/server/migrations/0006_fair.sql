-- menon-harness schema, version 6: fair claims. Each endpoint's pending deliveries in due
-- order, so a claim reads the head of each endpoint's queue instead of walking one queue
-- of every endpoint's events (PROTOCOL §5: one seller's backlog never delays another's).
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at)
WHERE status = 'pending';
