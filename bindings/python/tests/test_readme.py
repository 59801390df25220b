"""The README's receivers, run as written: each Python block under "FastAPI", "Flask", "Django" and
"Without a framework helper" is executed and then sent a signed delivery and a forged one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from data import EVENT_FILES, SECRET

import menon_webhooks

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def block(title: str) -> str:
    section = README.split(f"### {title}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, title
    return match.group(1)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENON_WEBHOOK_SECRET", SECRET)


RAW = EVENT_FILES[0].read_bytes()


def test_fastapi_receiver(secret_env: None) -> None:
    from fastapi.testclient import TestClient

    scope: dict[str, Any] = {"__name__": "readme_fastapi"}
    exec(block("FastAPI"), scope)
    client = TestClient(scope["app"])
    good = client.post("/webhooks/menon", content=RAW, headers=menon_webhooks.sign(RAW, SECRET))
    assert (good.status_code, good.json()) == (200, {"received": True})
    bad = client.post("/webhooks/menon", content=RAW + b" ", headers=menon_webhooks.sign(RAW, SECRET))
    assert bad.status_code == 401 and bad.json()["detail"]["code"] == "signature_mismatch"


def test_flask_receiver(secret_env: None) -> None:
    scope: dict[str, Any] = {"__name__": "readme_flask"}
    exec(block("Flask"), scope)
    client = scope["app"].test_client()
    good = client.post("/webhooks/menon", data=RAW, headers=menon_webhooks.sign(RAW, SECRET))
    assert good.status_code == 204
    bad = client.post("/webhooks/menon", data=RAW, headers={})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "missing_signature"


def test_django_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    import test_frameworks  # noqa: F401  (configures Django settings once)
    from django.conf import settings
    from django.test import RequestFactory

    monkeypatch.setattr(settings, "MENON_WEBHOOK_SECRET", SECRET, raising=False)
    scope: dict[str, Any] = {"__name__": "readme_django"}
    exec(block("Django"), scope)
    view = scope["menon_webhook"]
    factory = RequestFactory()
    good = factory.post("/webhooks/menon", data=RAW, content_type="application/json",
                        headers=menon_webhooks.sign(RAW, SECRET))
    assert view(good).status_code == 204
    bad = factory.post("/webhooks/menon", data=RAW, content_type="application/json",
                       headers=menon_webhooks.sign(RAW, "whsec_someone_else_000000000000000000"))
    assert view(bad).status_code == 401


def test_receiver_without_helper(secret_env: None) -> None:
    scope: dict[str, Any] = {"__name__": "readme_plain"}
    exec(block("Without a framework helper"), scope)
    assert scope["handle"](RAW, menon_webhooks.sign(RAW, SECRET)) == 204
    assert scope["handle"](RAW, {"x-menon-signature": "sha256=" + "0" * 64}) == 401
    signed_not_an_event = menon_webhooks.sign(b"[1,2]", SECRET)
    assert scope["handle"](b"[1,2]", signed_not_an_event) == 400

