"""Typed use of the public API, checked by `mypy --strict` (test.sh), never run by pytest.

It shows that the stubs accept what users pass (framework header objects, a parsed body,
a rotation list) and give precise results; `reveal_type`-free, so any error fails the check.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, Optional, cast

import django.http
import flask
from fastapi import Depends, FastAPI, Request

import menon_webhooks
from menon_webhooks import (
    DEFAULT_TOLERANCE,
    EVENT_TYPES,
    MAX_DEPTH,
    MessageReceivedEvent,
    Verified,
    Webhook,
    WebhookEvent,
    WebhookVerificationError,
    canonicalize,
    sign,
    verify,
    verify_signature,
)
from menon_webhooks.django import verified_event as django_event
from menon_webhooks.fastapi import verified_event as fastapi_event
from menon_webhooks.flask import verified_event as flask_event

SECRET = os.environ.get("MENON_WEBHOOK_SECRET", "whsec_example")
ok: bool = verify_signature(b"{}", "sha256=00", SECRET)
headers: dict[str, str] = sign(b"{}", [SECRET, "whsec_old"], timestamp=1_705_314_600)
event: dict[str, Any] = verify(b"{}", headers, SECRET, tolerance=DEFAULT_TOLERANCE, now=None)
event = verify({"id": "evt_1"}, headers, (SECRET,))
text: str = canonicalize({"b": [1, 2.5, None, True], "a": "x"}) + canonicalize(b"[]")
depth: int = MAX_DEPTH
types: tuple[str, ...] = EVENT_TYPES
to_send: dict[str, str] = sign({"id": "evt_1"}, SECRET, event_type="listing.created", event_id="evt_1",
                               delivery_id="log_1")

webhook = Webhook(SECRET)
verified: Verified = webhook.verify_delivery(bytearray(b"{}"), headers, now=1_705_314_600)
scheme: Literal["v1", "v2"] = verified.scheme
index: int = verified.secret_index
timestamp: Optional[int] = verified.timestamp
more_headers: dict[str, str] = webhook.sign("{}")

try:
    webhook.verify(b"{}", headers)
except WebhookVerificationError as error:
    code: str = error.code
    status: int = error.status
    as_value_error: ValueError = error


# The event TypedDicts: `type` narrows `data`, one typed resource per event type.
def describe(event: WebhookEvent) -> str:
    if event["type"] == "message.received":
        return event["data"]["message"]["content"] + event["data"]["message"]["sender"]["name"]
    if event["type"] == "subscription.created":
        return str(event["data"]["subscription"]["price"]["amount"]) + event["data"]["subscription"]["plan"]["name"]
    if event["type"] == "invoice.paid":
        return event["data"]["invoice"]["paid_at"] + str(event["data"]["invoice"].get("amount_paid", 0.0))
    if event["type"] == "listing.sold":
        return event["data"]["listing"]["title"] + str(event["data"]["listing"].get("sold_price"))
    return event["id"] + event["created_at"]


described: str = describe(cast(WebhookEvent, verify(b"{}", headers, SECRET)))
example: MessageReceivedEvent = {
    "id": "evt_def456",
    "type": "message.received",
    "created_at": "2024-01-15T14:30:00Z",
    "data": {
        "message": {
            "id": "msg_789",
            "conversation_id": "conv_123",
            "content": "Is this vehicle still available?",
            "sender": {"id": "usr_456", "name": "John Smith"},
            "listing": {"id": "lst_xyz", "title": "2021 Volvo FH 500"},
            "sent_at": "2024-01-15T14:30:00Z",
        }
    },
}


# FastAPI: the dependency, and Starlette's Headers as a header mapping.
app = FastAPI()
MenonEvent = Annotated[dict[str, Any], Depends(fastapi_event(SECRET))]


@app.post("/webhooks/menon")
async def receive(event: MenonEvent) -> dict[str, bool]:
    return {"received": event["type"] is not None}


@app.post("/webhooks/by-hand")
async def by_hand(request: Request) -> dict[str, Any]:
    return webhook.verify(await request.body(), request.headers)


# Flask: the decorator keeps the view's own parameters; request.headers is a header mapping.
flask_app = flask.Flask(__name__)


@flask_app.post("/webhooks/menon/<tenant>")
@flask_event(SECRET, tolerance=60)
def flask_receive(event: dict[str, Any], tenant: str) -> tuple[str, int]:
    return tenant, 204


@flask_app.post("/webhooks/async")
@flask_event(webhook)
async def flask_receive_async(event: dict[str, Any]) -> dict[str, str]:
    return {"type": str(event["type"])}


@flask_app.post("/webhooks/by-hand")
def flask_by_hand() -> dict[str, Any]:
    return verify(flask.request.get_data(), flask.request.headers, SECRET)


# Django: the decorator takes (request, event, ...); request.headers is a header mapping.
@django_event([SECRET, "whsec_old"])
def django_receive(request: django.http.HttpRequest, event: dict[str, Any]) -> django.http.HttpResponse:
    return django.http.HttpResponse(status=204)


@django_event(SECRET)
async def django_receive_async(
    request: django.http.HttpRequest, event: dict[str, Any], tenant: str
) -> django.http.JsonResponse:
    return django.http.JsonResponse({"tenant": tenant})


def django_by_hand(request: django.http.HttpRequest) -> django.http.JsonResponse:
    return django.http.JsonResponse(menon_webhooks.verify(request.body, request.headers, SECRET))


def call_decorated(request: django.http.HttpRequest) -> None:
    response: django.http.HttpResponse | django.http.JsonResponse = django_receive(request)
    del response


# Misuse the stubs must catch: strict mode's warn_unused_ignores fails the check if any of these
# ignores stops being needed, i.e. if a stub became too loose.
verify(b"{}", headers, 5)  # type: ignore[arg-type]
verify(b"{}", headers, SECRET, tolerance="300")  # type: ignore[arg-type]
verify(b"{}", [("X-Menon-Signature", "sha256=00")], SECRET)  # type: ignore[arg-type]
sign(b"{}", SECRET, timestamp=1.5)  # type: ignore[arg-type]
sign(b"{}", SECRET, event_type=1)  # type: ignore[arg-type]
canonicalize(object())  # type: ignore[arg-type]
Webhook(b"whsec_bytes")  # type: ignore[arg-type]
wrong_scheme: Literal["v3"] = verified.scheme  # type: ignore[assignment]
wrong_event: list[Any] = verify(b"{}", headers, SECRET)  # type: ignore[assignment]
WebhookVerificationError("no_secret", "m").status = 401  # type: ignore[misc]
no_content: str = example["data"]["message"]["body"]  # type: ignore[typeddict-item]
marked: MessageReceivedEvent = {**example, "test": True}  # type: ignore[typeddict-unknown-key]


@django_event(SECRET)  # type: ignore[arg-type]
def django_without_request(event: dict[str, Any]) -> django.http.HttpResponse:
    return django.http.HttpResponse()


@flask_event(SECRET)  # type: ignore[arg-type]
def flask_without_event() -> str:
    return ""
