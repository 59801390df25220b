"""Sign, verify and canonicalize Menon Mobility webhook deliveries (types)."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, Optional, Protocol, Union, final

from ._errors import WebhookVerificationError as WebhookVerificationError
from .events import (
    ConversationCreatedData as ConversationCreatedData,
    ConversationCreatedEvent as ConversationCreatedEvent,
    EventEnvelope as EventEnvelope,
    InquiryCreatedData as InquiryCreatedData,
    InquiryCreatedEvent as InquiryCreatedEvent,
    InquiryRespondedData as InquiryRespondedData,
    InquiryRespondedEvent as InquiryRespondedEvent,
    InvoiceCreatedData as InvoiceCreatedData,
    InvoiceCreatedEvent as InvoiceCreatedEvent,
    InvoicePaidData as InvoicePaidData,
    InvoicePaidEvent as InvoicePaidEvent,
    ListingCreatedData as ListingCreatedData,
    ListingCreatedEvent as ListingCreatedEvent,
    ListingDeletedData as ListingDeletedData,
    ListingDeletedEvent as ListingDeletedEvent,
    ListingPublishedData as ListingPublishedData,
    ListingPublishedEvent as ListingPublishedEvent,
    ListingSoldData as ListingSoldData,
    ListingSoldEvent as ListingSoldEvent,
    ListingUnpublishedData as ListingUnpublishedData,
    ListingUnpublishedEvent as ListingUnpublishedEvent,
    ListingUpdatedData as ListingUpdatedData,
    ListingUpdatedEvent as ListingUpdatedEvent,
    MessageReadData as MessageReadData,
    MessageReadEvent as MessageReadEvent,
    MessageReceivedData as MessageReceivedData,
    MessageReceivedEvent as MessageReceivedEvent,
    PaymentFailedData as PaymentFailedData,
    PaymentFailedEvent as PaymentFailedEvent,
    PaymentSucceededData as PaymentSucceededData,
    PaymentSucceededEvent as PaymentSucceededEvent,
    SubscriptionCanceledData as SubscriptionCanceledData,
    SubscriptionCanceledEvent as SubscriptionCanceledEvent,
    SubscriptionCreatedData as SubscriptionCreatedData,
    SubscriptionCreatedEvent as SubscriptionCreatedEvent,
    SubscriptionRenewedData as SubscriptionRenewedData,
    SubscriptionRenewedEvent as SubscriptionRenewedEvent,
    SubscriptionUpdatedData as SubscriptionUpdatedData,
    SubscriptionUpdatedEvent as SubscriptionUpdatedEvent,
    UserCreatedData as UserCreatedData,
    UserCreatedEvent as UserCreatedEvent,
    UserVerifiedData as UserVerifiedData,
    UserVerifiedEvent as UserVerifiedEvent,
    WebhookEvent as WebhookEvent,
)

__version__: str
__all__ = [
    "ConversationCreatedData",
    "ConversationCreatedEvent",
    "DEFAULT_TOLERANCE",
    "EVENT_TYPES",
    "EventEnvelope",
    "InquiryCreatedData",
    "InquiryCreatedEvent",
    "InquiryRespondedData",
    "InquiryRespondedEvent",
    "InvoiceCreatedData",
    "InvoiceCreatedEvent",
    "InvoicePaidData",
    "InvoicePaidEvent",
    "ListingCreatedData",
    "ListingCreatedEvent",
    "ListingDeletedData",
    "ListingDeletedEvent",
    "ListingPublishedData",
    "ListingPublishedEvent",
    "ListingSoldData",
    "ListingSoldEvent",
    "ListingUnpublishedData",
    "ListingUnpublishedEvent",
    "ListingUpdatedData",
    "ListingUpdatedEvent",
    "MAX_DEPTH",
    "StandardWebhook",
    "MessageReadData",
    "MessageReadEvent",
    "MessageReceivedData",
    "MessageReceivedEvent",
    "PaymentFailedData",
    "PaymentFailedEvent",
    "PaymentSucceededData",
    "PaymentSucceededEvent",
    "SubscriptionCanceledData",
    "SubscriptionCanceledEvent",
    "SubscriptionCreatedData",
    "SubscriptionCreatedEvent",
    "SubscriptionRenewedData",
    "SubscriptionRenewedEvent",
    "SubscriptionUpdatedData",
    "SubscriptionUpdatedEvent",
    "UserCreatedData",
    "UserCreatedEvent",
    "UserVerifiedData",
    "UserVerifiedEvent",
    "Verified",
    "Webhook",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "canonicalize",
    "sign",
    "verify",
    "verify_signature",
]

#: How far, in seconds, a v2 timestamp may be from ``now``, either way (300).
DEFAULT_TOLERANCE: Final[int]
#: The docs' 21 event types, in the docs' order. A receiver must still acknowledge others.
EVENT_TYPES: Final[tuple[str, ...]]
#: Deepest nesting of lists and dicts that ``canonicalize`` accepts (128).
MAX_DEPTH: Final[int]

#: A delivery body: the raw bytes as received (``bytes``, or ``str`` of them), or the
#: parsed JSON object, which is canonicalized (RFC 8785) to rebuild the signed bytes.
_Body = Union[bytes, bytearray, memoryview, str, Mapping[str, Any]]
class _Headers(Protocol):
    """The request's header mapping: a dict, Starlette's/FastAPI's ``Headers``, Werkzeug's
    (Flask's) ``EnvironHeaders``, Django's ``HttpHeaders``, an ``email.message.Message``…
    Names are compared case-insensitively."""

    def get(self, key: str, /) -> Optional[str]: ...

#: One secret (``whsec_...``) or several while rotating, newest first.
_Secret = Union[str, Sequence[str]]
#: JSON text (``str``/``bytes``) or a Python value made of dict (str keys), list, tuple,
#: str, int, float, bool and None.
_JSONInput = Union[str, bytes, bytearray, memoryview, Mapping[str, Any], Sequence[Any], int, float, bool, None]

def verify_signature(payload: Any, signature: Any, secret: Any) -> bool:
    """The docs' ``verify_webhook(payload, signature, secret)``.

    ``True`` when ``signature`` (the ``X-Menon-Signature`` value, ``sha256=<hex>``) is the
    HMAC-SHA256 of the raw ``payload`` (``bytes`` or ``str``) under ``secret``. ``False``
    for anything else, bad input included; never raises.
    """

def verify(
    body: _Body,
    headers: _Headers,
    secret: _Secret,
    *,
    tolerance: int = 300,
    now: int | None = None,
    require_v2: bool = False,
) -> dict[str, Any]:
    """Verify a delivery and return the event (the parsed body).

    ``headers`` is the request's header mapping (``request.headers`` in FastAPI/Starlette,
    Flask and Django, or a dict); names are compared case-insensitively. The
    ``X-Menon-Signature-V2`` header is checked when present (timestamp within ``tolerance``
    seconds of ``now``, default the system clock), else ``X-Menon-Signature``, unless
    ``require_v2``: then a delivery without the v2 header is refused (``missing_signature``),
    so a captured delivery cannot be replayed by stripping its timestamped header.

    Raises ``WebhookVerificationError`` with a stable ``.code`` on refusal.
    """

def sign(
    body: _Body,
    secret: _Secret,
    *,
    timestamp: int | None = None,
    event_type: str | None = None,
    event_id: str | None = None,
    delivery_id: str | None = None,
    test: bool = False,
) -> dict[str, str]:
    """The headers a Menon sender sends with ``body`` (to test a receiver):
    ``Content-Type``, ``X-Menon-Event`` and ``X-Menon-Event-Id`` (given, else the body's
    ``type`` and ``id`` when it is a JSON object), ``X-Menon-Delivery`` (when given),
    ``X-Menon-Timestamp`` (``timestamp``, default now), ``X-Menon-Signature`` (newest
    secret), ``X-Menon-Signature-V2`` (one entry per secret) and, with ``test=True``,
    ``X-Menon-Test: true`` (a test delivery). A mapping body is signed in its canonical
    form: send ``canonicalize(body)``."""

def canonicalize(obj: _JSONInput) -> str:
    """RFC 8785 (JCS) canonical form.

    A ``str``/``bytes`` argument is JSON text; anything else is a Python value, refused with
    ``WebhookVerificationError`` (code ``invalid_body``) when JSON has no exact form for it:
    NaN, infinities, ints beyond 2**53 that a double cannot hold exactly, non-str keys,
    other types, nesting deeper than ``MAX_DEPTH``, strs with a lone surrogate.
    """

@final
class Verified:
    """What ``Webhook.verify_delivery`` found."""

    @property
    def scheme(self) -> Literal["v1", "v2"]:
        """The header checked: ``"v2"`` (``X-Menon-Signature-V2``) or ``"v1"``."""
    @property
    def secret_index(self) -> int:
        """Index, in the secrets given (newest first), of the secret that matched."""
    @property
    def timestamp(self) -> int | None:
        """The v2 timestamp (unix seconds); ``None`` for v1."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class StandardWebhook:
    """A Standard Webhooks secret or key, called as ``standardwebhooks.Webhook`` is.

    ``whsec_…`` (or the key's ``bytes``) signs and verifies ``v1`` (HMAC-SHA256);
    ``whpk_…`` verifies ``v1a`` (Ed25519, strict); ``whsk_…`` signs ``v1a`` and verifies
    with its public key. A malformed one raises ``WebhookVerificationError``
    (``invalid_secret``).
    """

    def __new__(cls, whsecret: str | bytes) -> StandardWebhook: ...
    def verify(
        self,
        data: str | bytes,
        headers: _Headers,
        *,
        now: int | None = None,
        json_parse: bool = True,
    ) -> Any:
        """Check ``webhook-id``, ``webhook-timestamp`` (5 minutes either way) and
        ``webhook-signature``; return the payload parsed as JSON (``None`` with
        ``json_parse=False``, as ``standardwebhooks``)."""
    def sign(self, msg_id: str, timestamp: datetime | int, data: str | bytes) -> str:
        """The ``webhook-signature`` value: ``v1,<base64>`` or ``v1a,<base64>``."""
    @property
    def public_key(self) -> str | None:
        """The ``whpk_…`` key of an Ed25519 key; ``None`` for an HMAC secret."""

@final
class Webhook:
    """One secret, or several while rotating (newest first), prepared once.

    Raises ``WebhookVerificationError`` (``no_secret``) when there is no secret, or an empty
    one (``None`` or ``""``, usually an unset environment variable).
    """

    def __new__(cls, secret: _Secret) -> Webhook: ...
    def verify(
        self,
        body: _Body,
        headers: _Headers,
        *,
        tolerance: int = 300,
        now: int | None = None,
        require_v2: bool = False,
    ) -> dict[str, Any]:
        """Like the module's ``verify``, with this webhook's secrets."""
    def verify_delivery(
        self,
        body: _Body,
        headers: _Headers,
        *,
        tolerance: int = 300,
        now: int | None = None,
        require_v2: bool = False,
    ) -> Verified:
        """Verify without parsing the body (any bytes); says which scheme and secret matched."""
    def sign(
        self,
        body: _Body,
        *,
        timestamp: int | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
        delivery_id: str | None = None,
        test: bool = False,
    ) -> dict[str, str]:
        """Like the module's ``sign``, with this webhook's secrets."""
