"""The framework helpers through each framework's own test client: FastAPI's TestClient (httpx),
Flask's test_client, Django's test Client (with CSRF checks on). Each receiver answers 2xx to
every validly signed fixture event and, with the error code, the JS middleware's status to
everything else: 401 for a signature refusal, 400 for a validly signed body that is not an event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

import django
import pytest
from data import EVENT_FILES, OTHER_SECRET, SECRET
from django.conf import settings
from fastapi import Depends, FastAPI

import menon_webhooks
from menon_webhooks import sign
from menon_webhooks.fastapi import verified_event as fastapi_verified_event

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
    )
    django.setup()

SECRETS = [SECRET, OTHER_SECRET]  # rotating: either secret is accepted

# The statuses of the JS SDK's middleware (bindings/js/src/errors.js), which every helper answers.
SIGNATURE_REFUSED = 401
NOT_AN_EVENT = 400


@dataclass
class Receiver:
    """One framework's app, driven by its test client."""

    name: str
    post: Callable[[str, bytes, dict[str, str]], tuple[int, Any]]
    code_of: Callable[[Any], str]
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: tuple[str, ...] = ("/hook",)


def api_error_code(body: Any) -> str:
    """The code in Menon's API error shape, which the Flask and Django helpers answer with."""
    assert body["success"] is False and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


# --- FastAPI ---------------------------------------------------------------------------------------


_fastapi_app = FastAPI()
_fastapi_received: list[dict[str, Any]] = []
# At module level, as in an application: FastAPI resolves the annotation by name.
MenonEvent = Annotated[dict[str, Any], Depends(fastapi_verified_event(SECRETS))]
StrictEvent = Annotated[dict[str, Any], Depends(fastapi_verified_event(SECRETS, require_v2=True))]


@_fastapi_app.post("/hook")
async def _fastapi_hook(event: MenonEvent) -> dict[str, bool]:
    _fastapi_received.append(event)
    return {"received": True}


@_fastapi_app.post("/strict")
async def _fastapi_strict(event: StrictEvent) -> dict[str, bool]:
    _fastapi_received.append(event)
    return {"received": True}


def fastapi_receiver() -> Receiver:
    from fastapi.testclient import TestClient

    client = TestClient(_fastapi_app)
    _fastapi_received.clear()

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, content=body, headers={"Content-Type": "application/json", **headers})
        return response.status_code, response.json()

    return Receiver("fastapi", post, lambda body: body["detail"]["code"], _fastapi_received)


# --- Flask -----------------------------------------------------------------------------------------


def flask_receiver() -> Receiver:
    from flask import Flask

    from menon_webhooks.flask import verified_event

    app = Flask(__name__)
    received: list[dict[str, Any]] = []
    receive = verified_event(SECRETS)

    @app.post("/hook")
    @receive
    def hook(event: dict[str, Any]) -> tuple[str, int]:
        received.append(event)
        return "", 204

    @app.post("/async/<tenant>")
    @receive
    async def async_hook(event: dict[str, Any], tenant: str) -> dict[str, str]:
        received.append(event)
        return {"tenant": tenant}

    @app.post("/strict")
    @verified_event(SECRETS, require_v2=True)
    def strict_hook(event: dict[str, Any]) -> tuple[str, int]:
        received.append(event)
        return "", 204

    client = app.test_client()

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, data=body, headers={"Content-Type": "application/json", **headers})
        return response.status_code, response.get_json(silent=True)

    return Receiver("flask", post, api_error_code, received, ("/hook", "/async/acme"))


# --- Django ----------------------------------------------------------------------------------------

_django_received: list[dict[str, Any]] = []


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path

    from menon_webhooks.django import verified_event

    receive = verified_event(SECRETS)

    @receive
    def hook(request: HttpRequest, event: dict[str, Any]) -> HttpResponse:
        _django_received.append(event)
        return HttpResponse(status=204)

    @receive
    async def async_hook(request: HttpRequest, event: dict[str, Any], tenant: str) -> JsonResponse:
        _django_received.append(event)
        return JsonResponse({"tenant": tenant})

    @verified_event(SECRETS, require_v2=True)
    def strict_hook(request: HttpRequest, event: dict[str, Any]) -> HttpResponse:
        _django_received.append(event)
        return HttpResponse(status=204)

    return [path("hook", hook), path("async/<str:tenant>", async_hook), path("strict", strict_hook)]


urlpatterns = _django_urls()


def django_receiver() -> Receiver:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # the decorator must exempt the view
    _django_received.clear()

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        text = response.content.decode()
        return response.status_code, json.loads(text) if text else None

    return Receiver("django", post, api_error_code, _django_received, ("/hook", "/async/acme"))


@pytest.fixture(params=["fastapi", "flask", "django"])
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    make = {"fastapi": fastapi_receiver, "flask": flask_receiver, "django": django_receiver}[request.param]
    yield make()


def ok(status: int) -> bool:
    return 200 <= status < 300


# --- what every receiver must do -------------------------------------------------------------------


def test_every_fixture_event_is_accepted(receiver: Receiver) -> None:
    for path in receiver.paths:
        receiver.received.clear()
        for file in EVENT_FILES:
            raw = file.read_bytes()
            status, _ = receiver.post(path, raw, sign(raw, SECRETS))
            assert ok(status), (receiver.name, path, file.name, status)
        assert receiver.received == [json.loads(f.read_bytes()) for f in EVENT_FILES]


def test_signed_with_the_older_secret_v1_only(receiver: Receiver) -> None:
    raw = EVENT_FILES[0].read_bytes()
    headers = {"X-Menon-Signature": sign(raw, OTHER_SECRET)["X-Menon-Signature"]}
    status, _ = receiver.post("/hook", raw, headers)
    assert ok(status)


def test_require_v2_refuses_v1_only_deliveries(receiver: Receiver) -> None:
    raw = EVENT_FILES[0].read_bytes()
    signed = sign(raw, SECRETS)
    v1_only = {"X-Menon-Signature": signed["X-Menon-Signature"]}
    status, body = receiver.post("/strict", raw, v1_only)
    assert (status, receiver.code_of(body)) == (401, "missing_signature")
    assert ok(receiver.post("/hook", raw, v1_only)[0]), "the default still accepts the docs' v1"
    assert ok(receiver.post("/strict", raw, signed)[0])


def test_large_body_is_accepted(receiver: Receiver) -> None:
    event = json.loads(EVENT_FILES[0].read_bytes())
    event["data"]["notes"] = "é" * (128 * 1024)
    raw = menon_webhooks.canonicalize(event).encode()
    assert len(raw) > 256 * 1024
    status, _ = receiver.post("/hook", raw, sign(raw, SECRETS))
    assert ok(status)
    assert receiver.received[-1] == event


def refused(
    receiver: Receiver, path: str, body: bytes, headers: dict[str, str], status: int = SIGNATURE_REFUSED
) -> str:
    before = len(receiver.received)
    got, answer = receiver.post(path, body, headers)
    assert got == status, (receiver.name, path, body[:40], got, answer)
    assert len(receiver.received) == before, "the view ran for a refused delivery"
    code = receiver.code_of(answer)
    assert isinstance(code, str)
    return code


def test_refusals_answer_401_with_the_code(receiver: Receiver) -> None:
    raw = EVENT_FILES[0].read_bytes()
    good = sign(raw, SECRETS)
    v1 = good["X-Menon-Signature"]
    hex_part = v1.removeprefix("sha256=")
    for path in receiver.paths:
        assert refused(receiver, path, raw, {}) == "missing_signature"
        assert refused(receiver, path, raw.replace(b"evt_", b"evt_x", 1), good) == "signature_mismatch"
        assert refused(receiver, path, raw, sign(raw, "whsec_another_secret_entirely_000000")) == "signature_mismatch"
        assert refused(receiver, path, raw, sign(raw, SECRETS, timestamp=1_000_000)) == "timestamp_too_old"
        ahead = sign(raw, SECRETS, timestamp=int(time.time()) + 3600)
        assert refused(receiver, path, raw, ahead) == "timestamp_in_future"
        for header, code in (
            ("sha256=", "malformed_signature"),
            ("sha256=" + "z" * 64, "malformed_signature"),
            ("sha256=" + hex_part[:40], "malformed_signature"),
            ("md5=" + hex_part[:32], "unsupported_scheme"),
        ):
            assert refused(receiver, path, raw, {"X-Menon-Signature": header}) == code


def test_signed_body_that_is_not_an_event_answers_400_with_the_code(receiver: Receiver) -> None:
    for path in receiver.paths:
        for body, code in (
            (b"[1,2]", "invalid_envelope"),
            (b"null", "invalid_envelope"),
            (b'"evt_1"', "invalid_envelope"),
            (b"hello, world", "invalid_json"),
            (b"{} {}", "invalid_json"),
            (b"", "invalid_json"),
            (b"\xff{}", "invalid_utf8"),
        ):
            assert refused(receiver, path, body, sign(body, SECRETS), NOT_AN_EVENT) == code, (receiver.name, body)
            # Under a wrong signature the same body is a signature refusal: it is never parsed.
            forged = sign(body, "whsec_another_secret_entirely_000000")
            assert refused(receiver, path, body, forged) == "signature_mismatch", (receiver.name, body)


def test_missing_secret_fails_at_start_up() -> None:
    from menon_webhooks import WebhookVerificationError
    from menon_webhooks.django import verified_event as django_event
    from menon_webhooks.fastapi import verified_event as fastapi_event
    from menon_webhooks.flask import verified_event as flask_event

    for make in (fastapi_event, flask_event, django_event):
        with pytest.raises(WebhookVerificationError) as caught:
            make("")
        assert caught.value.code == "no_secret"
