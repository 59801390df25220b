"""FastAPI (and Starlette) helper: a dependency that verifies the delivery and returns the event.

.. code-block:: python

    from typing import Annotated, Any
    from fastapi import Depends, FastAPI
    from menon_webhooks.fastapi import verified_event

    app = FastAPI()
    MenonEvent = Annotated[dict[str, Any], Depends(verified_event(os.environ["MENON_WEBHOOK_SECRET"]))]

    @app.post("/webhooks/menon")
    async def receive(event: MenonEvent) -> dict[str, bool]:
        ...  # event["type"], event["data"]; deduplicate on event["id"]
        return {"received": True}

The dependency reads the raw body (``await request.body()``), so the signature is checked over
the bytes as received. On refusal it raises ``HTTPException(error.status)`` whose detail is
``{"code": <error code>, "message": <what to do>}``: 401 for a signature refusal, 400 for a body
that is not an event, 500 when no secret is configured (the same as the JS middleware).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Callable, Union

from fastapi import HTTPException, Request

from . import DEFAULT_TOLERANCE, Webhook, WebhookVerificationError

__all__ = ["verified_event"]


def verified_event(
    secret: Union[str, Sequence[str], Webhook],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    require_v2: bool = False,
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A FastAPI dependency: the verified event of the request, or the refusal's status and code.

    ``secret`` is the webhook's secret (several, newest first, while rotating) or a ``Webhook``.
    """
    webhook = secret if isinstance(secret, Webhook) else Webhook(secret)

    async def menon_event(request: Request) -> dict[str, Any]:
        body = await request.body()
        try:
            return webhook.verify(body, request.headers, tolerance=tolerance, require_v2=require_v2)
        except WebhookVerificationError as error:
            raise HTTPException(
                status_code=error.status, detail={"code": error.code, "message": str(error)}
            ) from error

    return menon_event
