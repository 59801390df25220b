-- menon-harness schema, version 9: revoked seller tokens (issue 17).

-- One row per revoked `jti` (`menon-harness token revoke`), kept until the token it names
-- expires (`expires_at`, an upper bound when only the `jti` was given), then forgotten.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

-- The `jti` of the token a session was started with (NULL for a sign-in link): a session
-- whose token is revoked is no longer found.
ALTER TABLE dashboard_sessions ADD COLUMN token_jti TEXT;
