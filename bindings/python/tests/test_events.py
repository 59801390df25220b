"""The fixture events (fixtures/events/*.json): signed by the core through our sign(), accepted by
the docs' own Python example; and our promise about parsed bodies, canonicalize(parsed) == raw,
held for every event (where json.dumps re-serialization is not a promise at all)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from data import CANONICAL, EVENT_FILES, NOW, OTHER_SECRET, SECRET

import menon_webhooks
from menon_webhooks import WebhookVerificationError


def verify_webhook(payload: bytes, signature: str, secret: str) -> bool:
    """The docs' Python example, as a user copies it (the whole secret string is the key)."""
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


def test_all_21_events_are_here() -> None:
    assert len(EVENT_FILES) == 21
    assert {json.loads(p.read_bytes())["type"] for p in EVENT_FILES} == {p.stem for p in EVENT_FILES}


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.stem)
def test_docs_example_accepts_our_signature(path: Path) -> None:
    raw = path.read_bytes()
    headers = menon_webhooks.sign(raw, SECRET, timestamp=NOW)
    assert verify_webhook(raw, headers["X-Menon-Signature"], SECRET)
    # …and refuses what it should, so the check above can fail.
    assert not verify_webhook(raw + b" ", headers["X-Menon-Signature"], SECRET)
    assert not verify_webhook(raw, menon_webhooks.sign(raw, OTHER_SECRET)["X-Menon-Signature"], SECRET)
    # Our own verify_signature agrees with the docs' function.
    assert menon_webhooks.verify_signature(raw, headers["X-Menon-Signature"], SECRET)


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.stem)
def test_event_verifies_raw_and_parsed(path: Path) -> None:
    raw = path.read_bytes()
    headers = menon_webhooks.sign(raw, [SECRET, OTHER_SECRET], timestamp=NOW)
    event = json.loads(raw)
    assert menon_webhooks.verify(raw, headers, SECRET, now=NOW + 5) == event
    assert menon_webhooks.verify(raw.decode("utf-8"), headers, OTHER_SECRET, now=NOW) == event
    # The parsed body (what a framework hands over) verifies too, through canonicalize.
    assert menon_webhooks.verify(event, headers, SECRET, now=NOW) is event
    with pytest.raises(WebhookVerificationError) as caught:
        menon_webhooks.verify({**event, "id": "evt_other"}, headers, SECRET, now=NOW)
    assert caught.value.code == "signature_mismatch"


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.stem)
def test_canonicalize_of_parsed_event_is_the_raw_body(path: Path) -> None:
    """The promise of PROTOCOL §3, from Python values."""
    raw = path.read_bytes()
    assert menon_webhooks.canonicalize(json.loads(raw)) == raw.decode("utf-8")
    assert menon_webhooks.canonicalize(raw) == raw.decode("utf-8")


def sorted_dumps(value: Any) -> str:
    """The re-serialization receivers often try, which we do not promise."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def test_json_dumps_is_not_the_promise() -> None:
    """json.dumps(sort_keys=True) differs from RFC 8785 on numbers, escapes and key order; for
    each such canonical text, only canonicalize() rebuilds the signed bytes."""
    differing = []
    for case in CANONICAL["cases"]:
        if "output" not in case:
            continue
        canonical = case["output"]
        parsed = json.loads(canonical)
        if isinstance(parsed, str) or sorted_dumps(parsed) == canonical:
            continue
        differing.append(canonical)
        body = canonical.encode("utf-8")
        signature = menon_webhooks.sign(body, SECRET)["X-Menon-Signature"]
        assert not verify_webhook(sorted_dumps(parsed).encode("utf-8"), signature, SECRET), canonical
        assert menon_webhooks.canonicalize(parsed) == canonical
        assert verify_webhook(menon_webhooks.canonicalize(parsed).encode("utf-8"), signature, SECRET)
    # Small numbers (ECMAScript writes 1e-7 and 0.000001; Python 1e-07 and 1e-06) and key
    # order (by UTF-16 code units, not code points) are among them.
    assert len(differing) >= 10
    assert "1e-7" in differing and "0.000001" in differing
    assert '{"\U0001f600":2,"\ufb33":1}' in differing
    # And a parsed float that is an integer: Python writes 1.0, RFC 8785 writes 1.
    assert sorted_dumps({"a": 1.0}) != menon_webhooks.canonicalize({"a": 1.0}) == '{"a":1}'
