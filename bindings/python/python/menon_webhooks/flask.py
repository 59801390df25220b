"""Flask helper: a view decorator that verifies the delivery and passes the event to the view.

.. code-block:: python

    from flask import Flask
    from menon_webhooks.flask import verified_event

    app = Flask(__name__)

    @app.post("/webhooks/menon")
    @verified_event(os.environ["MENON_WEBHOOK_SECRET"])
    def receive(event: dict[str, Any]) -> tuple[str, int]:
        ...  # event["type"], event["data"]; deduplicate on event["id"]
        return "", 204

The decorator reads the raw body (``request.get_data()``), so the signature is checked over the
bytes as received, and passes the event as the view's first argument (URL arguments follow as
keywords). Sync and async views both work. On refusal it answers ``error.status`` with
``{"success": false, "error": {"code": <error code>, "message": <what to do>}}``: 401 for a
signature refusal, 400 for a body that is not an event, 500 when no secret is configured (the
same as the JS middleware).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union, overload

from flask import Response, jsonify, request

from . import DEFAULT_TOLERANCE, Webhook, WebhookVerificationError

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")

__all__ = ["verified_event"]

R = TypeVar("R")
Refusal = tuple[Response, int]
Event = dict[str, Any]


class _Decorator:
    """What ``verified_event(secret)`` returns: apply it to a view."""

    def __init__(self, webhook: Webhook, tolerance: int, require_v2: bool) -> None:
        self._webhook = webhook
        self._tolerance = tolerance
        self._require_v2 = require_v2

    def _event(self) -> Event | Refusal:
        try:
            return self._webhook.verify(request.get_data(), request.headers, tolerance=self._tolerance, require_v2=self._require_v2)
        except WebhookVerificationError as error:
            return jsonify(success=False, error={"code": error.code, "message": str(error)}), error.status

    @overload
    def __call__(
        self, view: Callable[Concatenate[Event, _P], Awaitable[R]]
    ) -> Callable[_P, Awaitable[R | Refusal]]: ...
    @overload
    def __call__(self, view: Callable[Concatenate[Event, _P], R]) -> Callable[_P, R | Refusal]: ...
    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_receiver(*args: Any, **kwargs: Any) -> Any:
                event = self._event()
                if isinstance(event, tuple):
                    return event
                return await view(event, *args, **kwargs)

            return async_receiver

        @functools.wraps(view)
        def receiver(*args: Any, **kwargs: Any) -> Any:
            event = self._event()
            if isinstance(event, tuple):
                return event
            return view(event, *args, **kwargs)

        return receiver


def verified_event(
    secret: Union[str, Sequence[str], Webhook],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    require_v2: bool = False,
) -> _Decorator:
    """Decorate a Flask view that takes the verified event as its first argument.

    ``secret`` is the webhook's secret (several, newest first, while rotating) or a ``Webhook``;
    it is checked now, so a missing secret fails at start-up (``no_secret``), not per request.
    """
    webhook = secret if isinstance(secret, Webhook) else Webhook(secret)
    return _Decorator(webhook, tolerance, require_v2)
