-- menon-harness schema, version 3: the seller dashboard's sign-in (issue 7).

-- One row per signed-in browser. The cookie holds a random token; only its SHA-256 is
-- kept, as for API keys. `csrf_token` goes into every form of that session's pages.
CREATE TABLE dashboard_sessions (
    id_hash    BLOB PRIMARY KEY,
    seller_id  TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);

-- Sign-in links work once: the `jti` of each link used, kept until the link expires.
CREATE TABLE dashboard_used_links (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
