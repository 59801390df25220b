"""Every vector of fixtures/vectors/standard.json through the Python build: Standard Webhooks
sign and verify through ``StandardWebhook``, RFC 8032 and every Wycheproof Ed25519 case through
the native module's low-level ``ed25519_verify``. A failure names the vector (or its tcId)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from data import FIXTURES

from menon_webhooks import StandardWebhook, WebhookVerificationError
from menon_webhooks._native import ed25519_verify

STANDARD: dict[str, Any] = json.loads((FIXTURES / "vectors" / "standard.json").read_text("utf-8"))
SIGN: list[dict[str, Any]] = STANDARD["sign"]
VERIFY: list[dict[str, Any]] = STANDARD["verify"]
RFC8032: list[dict[str, Any]] = STANDARD["ed25519"]["rfc8032"]
WYCHEPROOF: list[dict[str, Any]] = STANDARD["ed25519"]["wycheproof"]["tests"]


def body_of(v: dict[str, Any]) -> bytes:
    return bytes.fromhex(v["body_hex"]) if "body_hex" in v else str(v["body"]).encode("utf-8")


def payloads(v: dict[str, Any]) -> list[str | bytes]:
    """The body as bytes, and as text when it is text."""
    return [body_of(v), v["body"]] if "body" in v else [body_of(v)]


def test_every_section_is_here() -> None:
    # Guards against a silently empty parametrization.
    assert len(SIGN) >= 15 and len(VERIFY) >= 80 and sum(v["valid"] for v in VERIFY) >= 20
    assert len(RFC8032) == 5
    assert len(WYCHEPROOF) == STANDARD["ed25519"]["wycheproof"]["number_of_tests"] >= 150
    assert STANDARD["tolerance"] == 300


@pytest.mark.parametrize("v", SIGN, ids=lambda v: v["name"])
def test_sign(v: dict[str, Any]) -> None:
    for payload in payloads(v):
        if "signature" in v:
            assert StandardWebhook(v["key"]).sign(v["msg_id"], v["timestamp"], payload) == v["signature"], v["name"]
        else:
            with pytest.raises(WebhookVerificationError) as refused:
                StandardWebhook(v["key"]).sign(v["msg_id"], v["timestamp"], payload)
            assert refused.value.code == v["error"], f"{v['name']}: {refused.value}"


@pytest.mark.parametrize("v", VERIFY, ids=lambda v: v["name"])
def test_verify(v: dict[str, Any]) -> None:
    for payload in payloads(v):
        if v["valid"]:
            got = StandardWebhook(v["key"]).verify(payload, dict(v["headers"]), now=v["now"])
            assert got == json.loads(body_of(v)), v["name"]
        else:
            with pytest.raises(WebhookVerificationError) as refused:
                StandardWebhook(v["key"]).verify(payload, dict(v["headers"]), now=v["now"])
            assert refused.value.code == v["error"], f"{v['name']}: {refused.value}"


@pytest.mark.parametrize("v", RFC8032, ids=lambda v: v["name"])
def test_rfc8032(v: dict[str, Any]) -> None:
    public, message, signature = (bytes.fromhex(v[k]) for k in ("public_key", "message", "signature"))
    assert ed25519_verify(public, message, signature) is v["valid"], v["name"]
    assert ed25519_verify(public, message + b"\0", signature) is False, v["name"]
    seed = base64.b64encode(bytes.fromhex(v["secret_key"])).decode()
    assert StandardWebhook("whsk_" + seed).public_key == "whpk_" + base64.b64encode(public).decode()


@pytest.mark.parametrize("t", WYCHEPROOF, ids=lambda t: f"tcId-{t['tcId']}")
def test_wycheproof(t: dict[str, Any]) -> None:
    assert t["valid"] == (t["result"] == "valid") or isinstance(t.get("reason"), str), f"tcId {t['tcId']}"
    got = ed25519_verify(bytes.fromhex(t["public_key"]), bytes.fromhex(t["msg"]), bytes.fromhex(t["sig"]))
    assert got is t["valid"], f"tcId {t['tcId']} ({t['comment']}; {', '.join(t['flags'])})"
