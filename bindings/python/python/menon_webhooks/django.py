"""Django helper: a view decorator that verifies the delivery and passes the event to the view.

.. code-block:: python

    # views.py
    from django.http import HttpRequest, HttpResponse
    from menon_webhooks.django import verified_event

    @verified_event(settings.MENON_WEBHOOK_SECRET)
    def menon_webhook(request: HttpRequest, event: dict[str, Any]) -> HttpResponse:
        ...  # event["type"], event["data"]; deduplicate on event["id"]
        return HttpResponse(status=204)

The decorator reads the raw body (``request.body``), so the signature is checked over the bytes
as received, passes the event after ``request``, and exempts the view from CSRF checks (the
signature authenticates the sender; Menon cannot send a CSRF token). Sync and async views both
work. On refusal it answers ``error.status`` with
``{"success": false, "error": {"code": <error code>, "message": <what to do>}}`` (the
error shape of Menon's API and of the JS SDK's middleware): 401 for a signature refusal, 400 for
a body that is not an event, 500 when no secret is configured (the same as the JS middleware).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union, overload

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import DEFAULT_TOLERANCE, Webhook, WebhookVerificationError

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")

__all__ = ["verified_event"]

R = TypeVar("R")
Event = dict[str, Any]


class _Decorator:
    """What ``verified_event(secret)`` returns: apply it to a view."""

    def __init__(self, webhook: Webhook, tolerance: int, require_v2: bool) -> None:
        self._webhook = webhook
        self._tolerance = tolerance
        self._require_v2 = require_v2

    def _event(self, request: HttpRequest) -> Event | JsonResponse:
        try:
            return self._webhook.verify(request.body, request.headers, tolerance=self._tolerance, require_v2=self._require_v2)
        except WebhookVerificationError as error:
            return JsonResponse(
                {"success": False, "error": {"code": error.code, "message": str(error)}}, status=error.status
            )

    @overload
    def __call__(
        self, view: Callable[Concatenate[HttpRequest, Event, _P], Awaitable[R]]
    ) -> Callable[Concatenate[HttpRequest, _P], Awaitable[R | JsonResponse]]: ...
    @overload
    def __call__(
        self, view: Callable[Concatenate[HttpRequest, Event, _P], R]
    ) -> Callable[Concatenate[HttpRequest, _P], R | JsonResponse]: ...
    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_receiver(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                event = self._event(request)
                if isinstance(event, JsonResponse):
                    return event
                return await view(request, event, *args, **kwargs)

            return csrf_exempt(async_receiver)

        @functools.wraps(view)
        def receiver(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            event = self._event(request)
            if isinstance(event, JsonResponse):
                return event
            return view(request, event, *args, **kwargs)

        return csrf_exempt(receiver)


def verified_event(
    secret: Union[str, Sequence[str], Webhook],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    require_v2: bool = False,
) -> _Decorator:
    """Decorate a Django view ``view(request, event, ...)`` that receives Menon deliveries.

    ``secret`` is the webhook's secret (several, newest first, while rotating) or a ``Webhook``;
    it is checked now, so a missing secret fails at start-up (``no_secret``), not per request.
    """
    webhook = secret if isinstance(secret, Webhook) else Webhook(secret)
    return _Decorator(webhook, tolerance, require_v2)
