"""The framework helpers over real HTTP on loopback: each app served on a real socket in a
background thread (FastAPI by uvicorn, Flask by werkzeug's threaded server, Django by wsgiref and
Django's WSGI handler) and driven by http.client, not by a framework's test client.

A body that is signed with the right secret but is not an event (JSON that is not an object:
``invalid_envelope``; text that is not JSON: ``invalid_json``; bytes that are not UTF-8:
``invalid_utf8``) is refused with 400, the status of the JS SDK's middleware, in the helper's
documented error shape, and the view never runs; with a wrong signature it is a signature refusal,
401. The same server then receives a fixture event, so "the view never ran" is not
vacuous."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Callable

import django
import pytest
from data import EVENT_FILES, SECRET
from django.conf import settings
from fastapi import Depends, FastAPI

from menon_webhooks import sign
from menon_webhooks.fastapi import verified_event as fastapi_verified_event

HOST = "127.0.0.1"
# What every helper answers, as the JS middleware does (bindings/js/src/errors.js): a validly
# signed body that is not an event is a bad request; a signature refusal is unauthorized.
NOT_AN_EVENT = 400
SIGNATURE_REFUSED = 401

# (what it is, the signed body, the code of the refusal)
NOT_EVENTS: list[tuple[str, bytes, str]] = [
    ("a JSON array", b"[1,2]", "invalid_envelope"),
    ("an array of one event", b'[{"created_at":"2024-01-15T10:30:00Z","data":{},"id":"evt_1","type":"user.created"}]',
     "invalid_envelope"),
    ("JSON null", b"null", "invalid_envelope"),
    ("a JSON string", b'"evt_1"', "invalid_envelope"),
    ("a JSON number", b"42", "invalid_envelope"),
    ("text that is not JSON", b"hello, world", "invalid_json"),
    ("JSON cut short", b'{"created_at":"2024-01-15T10:30:00Z","data":', "invalid_json"),
    ("an empty body", b"", "invalid_json"),
    ("bytes that are not UTF-8", b"\xff{}", "invalid_utf8"),
]


@dataclass
class Server:
    """One framework's app on a loopback port; ``received`` is what its views were given."""

    name: str
    port: int
    received: list[dict[str, Any]]
    code_of: Callable[[Any], str]
    paths: tuple[str, ...]

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
        """(status, Content-Type, parsed JSON body or None) of one POST on a new connection."""
        # http.client rather than urllib.request: no proxy from the environment on loopback.
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            text = response.read()
            return response.status, response.getheader("Content-Type", ""), json.loads(text) if text else None
        finally:
            conn.close()


@contextmanager
def serving(serve: Callable[[], None], stop: Callable[[], None]) -> Iterator[None]:
    """Runs ``serve`` in a thread until the block ends. The socket is already listening, so
    requests wait in its backlog until the server accepts them: nothing to wait for."""
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"


def api_error_code(body: Any) -> str:
    """The code in Menon's API error shape, which the Flask and Django helpers answer with."""
    assert body["success"] is False and set(body["error"]) == {"code", "message"}, body
    return str(body["error"]["code"])


def fastapi_error_code(body: Any) -> str:
    """The code in the FastAPI helper's HTTPException detail."""
    assert set(body) == {"detail"} and set(body["detail"]) == {"code", "message"}, body
    return str(body["detail"]["code"])


# --- FastAPI, served by uvicorn --------------------------------------------------------------------

_fastapi_app = FastAPI()
_fastapi_received: list[dict[str, Any]] = []
# At module level, as in an application: FastAPI resolves the annotation by name.
MenonEvent = Annotated[dict[str, Any], Depends(fastapi_verified_event(SECRET))]


@_fastapi_app.post("/hook")
async def _fastapi_hook(event: MenonEvent) -> dict[str, bool]:
    _fastapi_received.append(event)
    return {"received": True}


@_fastapi_app.post("/sync/{tenant}")
def _fastapi_sync_hook(event: MenonEvent, tenant: str) -> dict[str, str]:
    _fastapi_received.append(event)
    return {"tenant": tenant}


@contextmanager
def fastapi_server() -> Iterator[Server]:
    import uvicorn

    _fastapi_received.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen()
        # log_config=None: leave the process's logging as it is.
        server = uvicorn.Server(uvicorn.Config(_fastapi_app, lifespan="off", log_config=None, log_level="warning"))

        def stop() -> None:
            server.should_exit = True

        with serving(lambda: server.run(sockets=[sock]), stop):
            port = sock.getsockname()[1]
            yield Server("fastapi", port, _fastapi_received, fastapi_error_code, ("/hook", "/sync/acme"))


# --- Flask, served by werkzeug ---------------------------------------------------------------------


@contextmanager
def flask_server() -> Iterator[Server]:
    from flask import Flask
    from werkzeug.serving import WSGIRequestHandler, make_server

    from menon_webhooks.flask import verified_event

    app = Flask(__name__)
    received: list[dict[str, Any]] = []
    receive = verified_event(SECRET)

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

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    server = make_server(HOST, 0, app, threaded=True, request_handler=Quiet)
    try:
        with serving(lambda: server.serve_forever(poll_interval=0.05), server.shutdown):
            yield Server("flask", server.server_port, received, api_error_code, ("/hook", "/async/acme"))
    finally:
        server.server_close()


# --- Django, served by wsgiref ---------------------------------------------------------------------

_django_received: list[dict[str, Any]] = []


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path

    from menon_webhooks.django import verified_event

    receive = verified_event(SECRET)

    @receive
    def hook(request: HttpRequest, event: dict[str, Any]) -> HttpResponse:
        _django_received.append(event)
        return HttpResponse(status=204)

    @receive
    async def async_hook(request: HttpRequest, event: dict[str, Any], tenant: str) -> JsonResponse:
        _django_received.append(event)
        return JsonResponse({"tenant": tenant})

    return [path("hook", hook), path("async/<str:tenant>", async_hook)]


urlpatterns = _django_urls()


@contextmanager
def django_server() -> Iterator[Server]:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application
    from django.test.utils import override_settings

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    if not settings.configured:
        # This file alone. Otherwise test_frameworks.py configured Django when it was imported,
        # for its own test client, and the overrides below serve this file's URLs on loopback.
        settings.configure(DEBUG=False, SECRET_KEY="tests-only", INSTALLED_APPS=[])
        django.setup()
    _django_received.clear()
    # CSRF checks on: the decorator must exempt the view.
    with override_settings(
        ALLOWED_HOSTS=[HOST],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
    ):
        server = make_server(HOST, 0, get_wsgi_application(), handler_class=Quiet)
        try:
            with serving(lambda: server.serve_forever(poll_interval=0.05), server.shutdown):
                yield Server("django", server.server_port, _django_received, api_error_code, ("/hook", "/async/acme"))
        finally:
            server.server_close()


@pytest.fixture(params=["fastapi", "flask", "django"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    make = {"fastapi": fastapi_server, "flask": flask_server, "django": django_server}[request.param]
    with make() as running:
        yield running


# --- what every helper must do over HTTP -----------------------------------------------------------


def test_signed_body_that_is_not_an_event_is_refused_over_http(server: Server) -> None:
    for path in server.paths:
        for what, body, code in NOT_EVENTS:
            shown = (server.name, path, what)
            status, content_type, answer = server.post(path, body, sign(body, SECRET))
            assert status == NOT_AN_EVENT, (*shown, status, answer)
            assert content_type.startswith("application/json"), (*shown, content_type)
            assert server.code_of(answer) == code, (*shown, answer)
            assert server.received == [], (*shown, "the view ran for a body that is not an event")
    # The same server and views receive an event, so the view would have recorded one.
    raw = EVENT_FILES[0].read_bytes()
    for path in server.paths:
        status, _, answer = server.post(path, raw, sign(raw, SECRET))
        assert 200 <= status < 300, (server.name, path, status, answer)
    assert server.received == [json.loads(raw)] * len(server.paths)


def test_not_an_event_with_a_wrong_signature_is_a_signature_refusal(server: Server) -> None:
    # The body is parsed only once its signature holds: a forged one learns nothing about it.
    for _, body, _ in NOT_EVENTS:
        status, _, answer = server.post(server.paths[0], body, sign(body, "whsec_another_secret_entirely_000000"))
        assert (status, server.code_of(answer)) == (SIGNATURE_REFUSED, "signature_mismatch"), (server.name, body, answer)
    assert server.received == []
