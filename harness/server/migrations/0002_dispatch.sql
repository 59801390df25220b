-- menon-harness schema, version 2: what the dispatcher needs (PROTOCOL §5).

-- Failed attempts in the current retry schedule (reset when a disabled webhook is
-- re-enabled); `attempts` keeps counting every attempt, for the logs' retry_count.
ALTER TABLE deliveries ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
-- When the delivery became delivered or failed for good.
ALTER TABLE deliveries ADD COLUMN finished_at INTEGER;
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status);
CREATE INDEX attempts_by_delivery ON delivery_attempts (delivery_id, status);
