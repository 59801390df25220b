"""Sign, verify and canonicalize Menon Mobility webhook deliveries.

The work is done by the Rust core (``menon-webhooks``) through the native module
``menon_webhooks._native``; this package re-exports it. Types: ``__init__.pyi``; the
event payloads' ``TypedDict``s: ``menon_webhooks.events`` (re-exported here).
Framework helpers, each importing its framework only when used:
``menon_webhooks.fastapi``, ``menon_webhooks.flask``, ``menon_webhooks.django``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._errors import WebhookVerificationError
from ._native import (
    DEFAULT_TOLERANCE,
    EVENT_TYPES,
    MAX_DEPTH,
    Verified,
    Webhook,
    canonicalize,
    sign,
    verify,
    verify_signature,
)
from .events import (
    ConversationCreatedData,
    ConversationCreatedEvent,
    EventEnvelope,
    InquiryCreatedData,
    InquiryCreatedEvent,
    InquiryRespondedData,
    InquiryRespondedEvent,
    InvoiceCreatedData,
    InvoiceCreatedEvent,
    InvoicePaidData,
    InvoicePaidEvent,
    ListingCreatedData,
    ListingCreatedEvent,
    ListingDeletedData,
    ListingDeletedEvent,
    ListingPublishedData,
    ListingPublishedEvent,
    ListingSoldData,
    ListingSoldEvent,
    ListingUnpublishedData,
    ListingUnpublishedEvent,
    ListingUpdatedData,
    ListingUpdatedEvent,
    MessageReadData,
    MessageReadEvent,
    MessageReceivedData,
    MessageReceivedEvent,
    PaymentFailedData,
    PaymentFailedEvent,
    PaymentSucceededData,
    PaymentSucceededEvent,
    SubscriptionCanceledData,
    SubscriptionCanceledEvent,
    SubscriptionCreatedData,
    SubscriptionCreatedEvent,
    SubscriptionRenewedData,
    SubscriptionRenewedEvent,
    SubscriptionUpdatedData,
    SubscriptionUpdatedEvent,
    UserCreatedData,
    UserCreatedEvent,
    UserVerifiedData,
    UserVerifiedEvent,
    WebhookEvent,
)

try:
    __version__ = version("menon-webhooks")
except PackageNotFoundError:  # pragma: no cover - only when run from a source tree
    __version__ = "0.0.0"

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
