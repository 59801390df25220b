"""Standard Webhooks through ``StandardWebhook``: the official libraries' example, both
directions against PyPI ``standardwebhooks`` (v1, HMAC) and ``cryptography`` (v1a,
Ed25519), and each refusal with its code."""

from __future__ import annotations

import base64
import json
import os
import random
import time
from datetime import datetime, timezone
from typing import Any

import pytest
import standardwebhooks
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from menon_webhooks import StandardWebhook, WebhookVerificationError

# The official libraries' test example.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(WebhookVerificationError) as refused:
        call(*args, **kwargs)
    return refused.value.code


def random_payload(rng: random.Random) -> str:
    data = {f"k{i}": rng.choice([rng.random(), rng.randint(-9, 9**9), "é✓" * rng.randint(0, 5)])
            for i in range(rng.randint(0, 6))}
    return json.dumps({"type": "user.created", "data": data})


def test_the_official_example() -> None:
    wh = StandardWebhook(SECRET)
    assert wh.sign(MSG_ID, TIMESTAMP, PAYLOAD) == SIGNATURE
    at = datetime.fromtimestamp(TIMESTAMP, tz=timezone.utc)
    assert wh.sign(MSG_ID, at, PAYLOAD) == SIGNATURE
    assert wh.verify(PAYLOAD, headers(MSG_ID, TIMESTAMP, SIGNATURE), now=TIMESTAMP) == {
        "test": 2432232314
    }
    assert wh.public_key is None
    # json_parse=False verifies and returns None, as the official class does; a bad
    # signature is still refused.
    good = headers(MSG_ID, TIMESTAMP, SIGNATURE)
    assert wh.verify(PAYLOAD, good, now=TIMESTAMP, json_parse=False) is None
    with pytest.raises(WebhookVerificationError):
        wh.verify(PAYLOAD + " ", good, now=TIMESTAMP, json_parse=False)
    # Raw key bytes, as the official class takes them.
    raw = base64.b64decode(SECRET[len("whsec_"):])
    assert StandardWebhook(raw).sign(MSG_ID, TIMESTAMP, PAYLOAD) == SIGNATURE


def test_v1_both_ways_with_the_official_library() -> None:
    rng = random.Random(20261203)
    for _ in range(50):
        secret = "whsec_" + base64.b64encode(os.urandom(rng.choice([24, 32]))).decode()
        ours, theirs = StandardWebhook(secret), standardwebhooks.Webhook(secret)
        payload, msg_id = random_payload(rng), f"msg_{rng.getrandbits(64):x}"
        now = datetime.now(tz=timezone.utc)
        signed = ours.sign(msg_id, now, payload)
        assert theirs.verify(payload, headers(msg_id, int(now.timestamp()), signed)) == json.loads(
            payload
        )
        theirs_signed = theirs.sign(msg_id, now, payload)
        assert theirs_signed == signed
        assert ours.verify(payload.encode(), headers(msg_id, int(now.timestamp()), theirs_signed)) == (
            json.loads(payload)
        )


def test_v1a_both_ways_with_cryptography() -> None:
    rng = random.Random(7)
    for _ in range(20):
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes_raw()
        public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        signing = StandardWebhook("whsk_" + base64.b64encode(seed).decode())
        public = StandardWebhook("whpk_" + base64.b64encode(public_raw).decode())
        assert signing.public_key == public.public_key == "whpk_" + base64.b64encode(
            public_raw
        ).decode()
        payload, msg_id, ts = random_payload(rng), f"msg_{rng.getrandbits(32)}", int(time.time())
        content = f"{msg_id}.{ts}.{payload}".encode()
        # Ours, checked by cryptography.
        signed = signing.sign(msg_id, ts, payload)
        version, encoded = signed.split(",", 1)
        assert version == "v1a"
        Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(encoded), content)
        # cryptography's, checked by ours, with the public key or the signing key.
        theirs = "v1a," + base64.b64encode(private.sign(content)).decode()
        for verifier in (public, signing):
            assert verifier.verify(payload, headers(msg_id, ts, theirs)) == json.loads(payload)
        # The HMAC secret does not read v1a entries, nor the key v1 entries.
        hmac = StandardWebhook(SECRET)
        assert code_of(hmac.verify, payload, headers(msg_id, ts, theirs)) == "signature_mismatch"
        v1 = hmac.sign(msg_id, ts, payload)
        assert code_of(public.verify, payload, headers(msg_id, ts, v1)) == "signature_mismatch"
    assert code_of(public.sign, "msg_1", 1, "{}") == "invalid_secret"


def test_each_refusal_has_its_code() -> None:
    wh = StandardWebhook(SECRET)
    good = headers(MSG_ID, TIMESTAMP, SIGNATURE)
    assert code_of(wh.verify, PAYLOAD + " ", good, now=TIMESTAMP) == "signature_mismatch"
    assert code_of(wh.verify, PAYLOAD, good, now=TIMESTAMP + 301) == "timestamp_too_old"
    assert code_of(wh.verify, PAYLOAD, good, now=TIMESTAMP - 301) == "timestamp_in_future"
    for name, code in (
        ("webhook-id", "missing_header"),
        ("webhook-timestamp", "missing_header"),
        ("webhook-signature", "missing_signature"),
    ):
        partial = {k: v for k, v in good.items() if k != name}
        assert code_of(wh.verify, PAYLOAD, partial, now=TIMESTAMP) == code, name
    bad_ts = dict(good, **{"webhook-timestamp": "soon"})
    assert code_of(wh.verify, PAYLOAD, bad_ts, now=TIMESTAMP) == "invalid_timestamp"
    # Header names in any case.
    spelled = {"Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": str(TIMESTAMP), "Webhook-Signature": SIGNATURE}
    assert wh.verify(PAYLOAD, spelled, now=TIMESTAMP) == {"test": 2432232314}
    for secret in ("whsec_!!", "whsec_", "whpk_AAAA", "whsk_AAAA"):
        assert code_of(StandardWebhook, secret) == "invalid_secret", secret
    with pytest.raises(TypeError):
        StandardWebhook(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wh.verify({"test": 1}, good, now=TIMESTAMP)  # type: ignore[arg-type]
