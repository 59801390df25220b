-- menon-harness schema on PostgreSQL, version 1: the same tables as SQLite's version 8
-- (../0001_init.sql to ../0008_pending_per_webhook.sql), written for many server
-- instances on one database. Times are unix seconds (BIGINT). `seq` columns keep
-- insertion order where SQLite has its rowid.

CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,          -- wh_…
    seq                  BIGSERIAL NOT NULL,
    seller_id            TEXT NOT NULL,
    url                  TEXT NOT NULL,
    events               JSONB NOT NULL,            -- array of event type names
    status               TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    -- failure history (PROTOCOL §5); reset when the webhook is re-enabled
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_success_at      BIGINT,
    disabled_at          BIGINT,
    disabled_reason      TEXT
);
CREATE INDEX webhooks_by_seller ON webhooks (seller_id, created_at, seq);

-- Signing secrets: one current (expires_at NULL) plus, during a rotation, the previous
-- ones until expires_at (PROTOCOL §2: sign v2 with every live secret).
CREATE TABLE webhook_secrets (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    seq        BIGSERIAL NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (webhook_id, secret)
);

-- API keys are stored as SHA-256 hashes only; `prefix` is the first characters, for display.
CREATE TABLE api_keys (
    key_hash   BYTEA PRIMARY KEY,
    seller_id  TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Events, kept so that deliveries can be retried.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,                    -- evt_…
    seller_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body       BYTEA NOT NULL,                      -- the canonical envelope bytes
    is_test    BOOLEAN NOT NULL DEFAULT FALSE       -- sent from a /test endpoint
);
CREATE INDEX events_by_seller ON events (seller_id, created_at);

-- The durable queue: one row per (event, webhook). A claim leases a row until
-- `leased_until` under `lease_token` (the attempt's log id): the fence that makes a late
-- result change nothing (PROTOCOL §5).
CREATE TABLE deliveries (
    id               BIGSERIAL PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    first_attempt_at BIGINT,
    next_attempt_at  BIGINT,
    leased_until     BIGINT,
    lease_token      TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status);
-- Each endpoint's pending deliveries in due order: a claim reads the head of each queue,
-- and walks this index from one webhook to the next to find the webhooks with deliveries
-- pending (idle webhooks cost nothing).
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at)
WHERE status = 'pending';
-- The few deliveries under a lease (in flight, or left by a crashed instance).
CREATE INDEX deliveries_leased ON deliveries (leased_until) WHERE leased_until IS NOT NULL;

-- One row per attempt: the delivery logs of PROTOCOL §5.
CREATE TABLE delivery_attempts (
    id               TEXT PRIMARY KEY,              -- log_…
    seq              BIGSERIAL NOT NULL,
    delivery_id      BIGINT REFERENCES deliveries (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seller_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    response_code    BIGINT,
    response_time_ms BIGINT,
    delivered_at     BIGINT,
    error            TEXT,
    retry_count      BIGINT NOT NULL DEFAULT 0,
    next_retry       BIGINT,
    created_at       BIGINT NOT NULL
) WITH (fillfactor = 80);
-- No index names a column an attempt's result changes (status, response, error): the
-- update that completes a log row stays on its page (fillfactor) and writes no index.
CREATE INDEX attempts_by_webhook ON delivery_attempts (webhook_id, seq);
CREATE INDEX attempts_by_delivery ON delivery_attempts (delivery_id);
CREATE INDEX attempts_by_event ON delivery_attempts (event_id, webhook_id);

-- The seller dashboard's sessions (only the SHA-256 of the cookie's token is kept) and
-- the sign-in links used, kept until they expire: shared by every instance.
CREATE TABLE dashboard_sessions (
    id_hash    BYTEA PRIMARY KEY,
    seller_id  TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);

CREATE TABLE dashboard_used_links (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- The queue depth, kept as deliveries change so that `/metrics` never counts the queue.
-- Spread over shards (one per server connection, by backend pid) so that concurrent
-- publishes and results do not queue up behind one counter row; the depth is the sum.
CREATE TABLE queue_depth (
    shard   INTEGER PRIMARY KEY,
    pending BIGINT NOT NULL
);
INSERT INTO queue_depth (shard, pending) VALUES (0, 0);

CREATE FUNCTION queue_depth_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := (NEW.status = 'pending')::INT;
    ELSIF TG_OP = 'DELETE' THEN
        delta := -(OLD.status = 'pending')::INT;
    ELSE
        delta := (NEW.status = 'pending')::INT - (OLD.status = 'pending')::INT;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO queue_depth AS q (shard, pending) VALUES (pg_backend_pid() % 64, delta)
        ON CONFLICT (shard) DO UPDATE SET pending = q.pending + EXCLUDED.pending;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER queue_depth_change AFTER INSERT OR DELETE OR UPDATE OF status ON deliveries
FOR EACH ROW EXECUTE FUNCTION queue_depth_change();
