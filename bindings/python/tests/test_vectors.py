"""Every vector of fixtures/vectors, through the Python API. A failure names the vector; the
assertion message shows it whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from data import CANONICAL, SIGNATURES, body_of, input_of

import menon_webhooks
from menon_webhooks import Webhook, WebhookVerificationError

SIGN = SIGNATURES["sign"]
VERIFY = SIGNATURES["verify"]
DELIVERIES = SIGNATURES["deliveries"]


def shown(vector: dict[str, Any]) -> str:
    text = json.dumps(vector, ensure_ascii=False)
    return text if len(text) < 2000 else text[:2000] + "…"


def test_vector_files_are_all_here() -> None:
    # Guards against a silently empty parametrization.
    assert len(SIGN) >= 10 and len(VERIFY) >= 70 and len(CANONICAL["cases"]) >= 150
    assert len(DELIVERIES) >= 15 and any(v["require_v2"] for v in DELIVERIES)
    assert CANONICAL["max_depth"] == menon_webhooks.MAX_DEPTH == 128
    assert menon_webhooks.DEFAULT_TOLERANCE == 300


@pytest.mark.parametrize("v", SIGN, ids=lambda v: v["name"])
def test_sign(v: dict[str, Any]) -> None:
    body = body_of(v)
    expected = {
        "X-Menon-Signature": v["v1"],
        "X-Menon-Signature-V2": v["v2"],
        "X-Menon-Timestamp": str(v["timestamp"]),
    }

    def signature_headers(headers: dict[str, str]) -> dict[str, str]:
        return {k: headers[k] for k in expected}

    secrets = v["secrets"]
    t = v["timestamp"]
    assert signature_headers(menon_webhooks.sign(body, secrets, timestamp=t)) == expected, shown(v)
    assert signature_headers(Webhook(secrets).sign(body, timestamp=t)) == expected, shown(v)
    if len(secrets) == 1:
        assert signature_headers(menon_webhooks.sign(body, secrets[0], timestamp=t)) == expected, shown(v)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert signature_headers(menon_webhooks.sign(text, secrets, timestamp=t)) == expected, shown(v)


def headers_of(v: dict[str, Any]) -> dict[str, str]:
    name = "X-Menon-Signature" if v["scheme"] == "v1" else "X-Menon-Signature-V2"
    return {name: v["header"]}


def when(v: dict[str, Any]) -> dict[str, int]:
    if v["scheme"] == "v1":
        return {}
    return {"now": v["now"], "tolerance": v.get("tolerance", menon_webhooks.DEFAULT_TOLERANCE)}


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@pytest.mark.parametrize("v", VERIFY, ids=lambda v: v["name"])
def test_verify_delivery(v: dict[str, Any]) -> None:
    body = body_of(v)
    secrets = v["secrets"]
    if v["valid"]:
        got = Webhook(secrets).verify_delivery(body, headers_of(v), **when(v))
        assert got.scheme == v["scheme"], shown(v)
        assert got.secret_index == v.get("secret_index", 0), shown(v)
        if v["scheme"] == "v2":
            assert got.timestamp is not None and abs(got.timestamp - v["now"]) <= when(v)["tolerance"]
        else:
            assert got.timestamp is None
    else:
        with pytest.raises(WebhookVerificationError) as caught:
            Webhook(secrets).verify_delivery(body, headers_of(v), **when(v))
        assert caught.value.code == v["error"], f"{caught.value}: {shown(v)}"
        assert str(caught.value), shown(v)


@pytest.mark.parametrize("v", VERIFY, ids=lambda v: v["name"])
def test_verify(v: dict[str, Any]) -> None:
    """The module's verify(): the event when the body is a JSON object, else the refusal."""
    body = body_of(v)
    event = json_object(body)
    if not v["valid"]:
        with pytest.raises(WebhookVerificationError) as caught:
            menon_webhooks.verify(body, headers_of(v), v["secrets"], **when(v))
        assert caught.value.code == v["error"], f"{caught.value}: {shown(v)}"
    elif event is not None:
        assert menon_webhooks.verify(body, headers_of(v), v["secrets"], **when(v)) == event
    else:
        # Signed correctly, but not a JSON object: verify() cannot return an event.
        with pytest.raises(WebhookVerificationError) as caught:
            menon_webhooks.verify(body, headers_of(v), v["secrets"], **when(v))
        assert caught.value.code in {"invalid_json", "invalid_utf8", "invalid_envelope"}, shown(v)
        assert "signature is valid" in str(caught.value)


V1 = [v for v in VERIFY if v["scheme"] == "v1" and len(v["secrets"]) == 1]


@pytest.mark.parametrize("v", DELIVERIES, ids=lambda v: v["name"])
def test_delivery(v: dict[str, Any]) -> None:
    """Whole deliveries through Webhook.verify_delivery and the module's verify, with
    require_v2 as the vector says (and left out when it is false: the default)."""
    body = body_of(v)
    kwargs: dict[str, Any] = {"now": v["now"], "tolerance": v.get("tolerance", 300)}
    if v["require_v2"]:
        kwargs["require_v2"] = True
    if v["valid"]:
        got = Webhook(v["secrets"]).verify_delivery(body, v["headers"], **kwargs)
        assert (got.scheme, got.secret_index) == (v["scheme"], v["secret_index"]), shown(v)
        assert menon_webhooks.verify(body, v["headers"], v["secrets"], **kwargs) == json.loads(body)
    else:
        for check in (
            lambda: Webhook(v["secrets"]).verify_delivery(body, v["headers"], **kwargs),
            lambda: menon_webhooks.verify(body, v["headers"], v["secrets"], **kwargs),
        ):
            with pytest.raises(WebhookVerificationError) as caught:
                check()
            assert caught.value.code == v["error"], f"{caught.value}: {shown(v)}"


@pytest.mark.parametrize("v", V1, ids=lambda v: v["name"])
def test_verify_signature(v: dict[str, Any]) -> None:
    """The docs' shape: a bool, for every one-secret v1 vector."""
    assert menon_webhooks.verify_signature(body_of(v), v["header"], v["secrets"][0]) is v["valid"], shown(v)


CASES = CANONICAL["cases"]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c["name"])
def test_canonicalize_text(c: dict[str, Any]) -> None:
    raw = input_of(c)
    if "output" in c:
        assert menon_webhooks.canonicalize(raw) == c["output"], shown(c)
        assert menon_webhooks.canonicalize(c["output"]) == c["output"], "not idempotent: " + shown(c)
        if "input" in c:
            assert menon_webhooks.canonicalize(c["input"]) == c["output"], shown(c)
    else:
        with pytest.raises(WebhookVerificationError) as caught:
            menon_webhooks.canonicalize(raw)
        assert caught.value.code == c["error"], f"{caught.value}: {shown(c)}"


def _int_or_float(literal: str) -> int | float:
    n = int(literal)
    return n if abs(n) <= 2**53 else float(literal)  # as an I-JSON parser reads it


@pytest.mark.parametrize("c", [c for c in CASES if "output" in c], ids=lambda c: c["name"])
def test_canonicalize_parsed(c: dict[str, Any]) -> None:
    """The same outputs from Python values (json.loads of the input), not text."""
    parsed = json.loads(input_of(c).decode("utf-8"), parse_int=_int_or_float)
    if isinstance(parsed, str):
        # A str argument is JSON text, by design: give the string value inside a list.
        assert menon_webhooks.canonicalize([parsed]) == f"[{c['output']}]", shown(c)
        return
    assert menon_webhooks.canonicalize(parsed) == c["output"], shown(c)
