-- menon-harness schema, version 11: a webhook's signing scheme (issue 18).

-- `menon` (the docs' headers), `standard-v1` (Standard Webhooks HMAC) or `standard-v1a`
-- (Standard Webhooks Ed25519). The signing keys stay sealed in webhook_secrets; the
-- public key of the newest `standard-v1a` key is public and kept here to show it.
ALTER TABLE webhooks ADD COLUMN scheme TEXT NOT NULL DEFAULT 'menon'
    CHECK (scheme IN ('menon', 'standard-v1', 'standard-v1a'));
ALTER TABLE webhooks ADD COLUMN public_key TEXT;
