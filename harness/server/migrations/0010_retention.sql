-- menon-harness schema, version 10: retention (issue 17, `serve --retention`).

-- The retention sweep walks events oldest first and deletes the logs of each by event.
-- (A seller's listing is ordered by (created_at, rowid), which `events_by_seller` holds.)
CREATE INDEX events_by_age ON events (created_at);
CREATE INDEX attempts_by_event ON delivery_attempts (event_id);
