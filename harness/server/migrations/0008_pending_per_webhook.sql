-- menon-harness schema, version 8: each webhook's pending deliveries, counted as they
-- change (as the queue depth is, version 7), so that a claim visits only the webhooks with
-- something pending, through a partial index, not every active webhook of every seller.
ALTER TABLE webhooks ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
UPDATE webhooks SET pending = (
    SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = webhooks.id AND d.status = 'pending');
CREATE INDEX webhooks_with_pending ON webhooks (id) WHERE pending > 0;

CREATE TRIGGER webhook_pending_insert AFTER INSERT ON deliveries
WHEN NEW.status = 'pending'
BEGIN
    UPDATE webhooks SET pending = pending + 1 WHERE id = NEW.webhook_id;
END;

CREATE TRIGGER webhook_pending_delete AFTER DELETE ON deliveries
WHEN OLD.status = 'pending'
BEGIN
    UPDATE webhooks SET pending = pending - 1 WHERE id = OLD.webhook_id;
END;

CREATE TRIGGER webhook_pending_update AFTER UPDATE OF status ON deliveries
WHEN (OLD.status = 'pending') <> (NEW.status = 'pending')
BEGIN
    UPDATE webhooks
    SET pending = pending + CASE WHEN NEW.status = 'pending' THEN 1 ELSE -1 END
    WHERE id = NEW.webhook_id;
END;
