-- Version 4: retention and the event listing (issue 17).

-- The retention sweep walks events oldest first (the logs are found by `attempts_by_event`).
CREATE INDEX events_by_age ON events (created_at);
-- Insertion order, so that a seller's listing keeps events of the same second in order.
ALTER TABLE events ADD COLUMN seq BIGSERIAL NOT NULL;
DROP INDEX events_by_seller;
CREATE INDEX events_by_seller ON events (seller_id, created_at, seq);
