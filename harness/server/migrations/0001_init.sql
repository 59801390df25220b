-- menon-harness schema, version 1.
-- Times are unix seconds (INTEGER). Ids are the prefixed random strings of src/ids.rs.

CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,          -- wh_…
    seller_id            TEXT NOT NULL,
    url                  TEXT NOT NULL,
    events               TEXT NOT NULL,             -- JSON array of event type names
    status               TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- failure history (PROTOCOL §5); reset when the webhook is re-enabled
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      INTEGER,
    disabled_at          INTEGER,
    disabled_reason      TEXT
);
CREATE INDEX webhooks_by_seller ON webhooks (seller_id, created_at, id);

-- Signing secrets: one current (expires_at NULL) plus, during a rotation, the previous
-- ones until expires_at (PROTOCOL §2: sign v2 with every live secret).
CREATE TABLE webhook_secrets (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (webhook_id, secret)
);

-- API keys are stored as SHA-256 hashes only; `prefix` is the first characters, for display.
CREATE TABLE api_keys (
    key_hash   BLOB PRIMARY KEY,
    seller_id  TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Events, kept so that deliveries can be retried (test events now; POST /v1/events next).
CREATE TABLE events (
    id         TEXT PRIMARY KEY,                    -- evt_…
    seller_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       BLOB NOT NULL,                       -- the canonical envelope bytes
    is_test    INTEGER NOT NULL DEFAULT 0           -- 1: sent from a /test endpoint
);
CREATE INDEX events_by_seller ON events (seller_id, created_at);

-- The durable queue: one row per (event, webhook) (next slice: the dispatcher).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_attempt_at INTEGER,
    next_attempt_at  INTEGER,
    leased_until     INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

-- One row per attempt: the delivery logs of PROTOCOL §5.
CREATE TABLE delivery_attempts (
    id               TEXT PRIMARY KEY,              -- log_…
    delivery_id      INTEGER REFERENCES deliveries (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seller_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    response_code    INTEGER,
    response_time_ms INTEGER,
    delivered_at     INTEGER,
    error            TEXT,
    retry_count      INTEGER NOT NULL DEFAULT 0,
    next_retry       INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX attempts_by_webhook ON delivery_attempts (webhook_id, created_at);
