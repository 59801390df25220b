"""Types of the event envelope and of each event type's ``data`` (``TypedDict``), as in the
Menon docs' three example payloads (``listing.created``, ``message.received``,
``subscription.created``) and the repository's fixtures for the other 18 types.

The members of the docs' examples are required; the others are ``NotRequired``. ``data``
holds one resource, named after the event type's first part (``data["listing"]``,
``data["invoice"]``). Money is in major units (``85000`` is EUR 85,000; ``177.31`` is USD
177.31). Nothing is checked at run time: ``verify`` returns the parsed JSON, which a type
checker can be told is a ``WebhookEvent`` (``cast``), narrowed by ``event["type"]``.
"""

import sys
from typing import Any, Literal, Optional, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.9 and 3.10
    from typing_extensions import NotRequired, TypedDict

__all__ = [
    "Address",
    "CanceledSubscription",
    "Cancellation",
    "Company",
    "Conversation",
    "ConversationCreatedData",
    "ConversationCreatedEvent",
    "ConversationParticipant",
    "DeletedListing",
    "EventEnvelope",
    "FailedPayment",
    "Inquiry",
    "InquiryBuyer",
    "InquiryCreatedData",
    "InquiryCreatedEvent",
    "InquiryRespondedData",
    "InquiryRespondedEvent",
    "InquiryResponse",
    "Invoice",
    "InvoiceCreatedData",
    "InvoiceCreatedEvent",
    "InvoiceCustomer",
    "InvoiceLine",
    "InvoicePaidData",
    "InvoicePaidEvent",
    "Listing",
    "ListingCreatedData",
    "ListingCreatedEvent",
    "ListingDeletedData",
    "ListingDeletedEvent",
    "ListingPublishedData",
    "ListingPublishedEvent",
    "ListingRef",
    "ListingSoldData",
    "ListingSoldEvent",
    "ListingUnpublishedData",
    "ListingUnpublishedEvent",
    "ListingUpdatedData",
    "ListingUpdatedEvent",
    "Message",
    "MessageReadData",
    "MessageReadEvent",
    "MessageReceivedData",
    "MessageReceivedEvent",
    "Money",
    "PaidInvoice",
    "Payment",
    "PaymentFailedData",
    "PaymentFailedEvent",
    "PaymentFailure",
    "PaymentMethod",
    "PaymentSucceededData",
    "PaymentSucceededEvent",
    "PlanRef",
    "PreviousSubscription",
    "Proration",
    "PublishedListing",
    "ReadMessage",
    "RenewedSubscription",
    "RespondedInquiry",
    "SoldListing",
    "Subscription",
    "SubscriptionCanceledData",
    "SubscriptionCanceledEvent",
    "SubscriptionCreatedData",
    "SubscriptionCreatedEvent",
    "SubscriptionRenewedData",
    "SubscriptionRenewedEvent",
    "SubscriptionUpdatedData",
    "SubscriptionUpdatedEvent",
    "SucceededPayment",
    "Tax",
    "TradeIn",
    "UnpublishedListing",
    "UpdatedListing",
    "UpdatedSubscription",
    "User",
    "UserCreatedData",
    "UserCreatedEvent",
    "UserRef",
    "UserVerifiedData",
    "UserVerifiedEvent",
    "Verification",
    "VerifiedUser",
    "WebhookEvent",
]


class EventEnvelope(TypedDict):
    """Any event: ``{"created_at", "data", "id", "type"}``, exactly these four members (a test
    delivery is marked by the ``X-Menon-Test: true`` header, not in the body)."""

    id: str
    type: str
    created_at: str
    data: dict[str, Any]


# --- references ------------------------------------------------------------------------------


class ListingRef(TypedDict):
    """A listing inside another resource, as the docs' ``message["listing"]``."""

    id: str
    title: str


class UserRef(TypedDict):
    """A person, as the docs' ``message["sender"]``."""

    id: str
    name: str


class PlanRef(TypedDict):
    """A plan, as the docs' ``subscription["plan"]``."""

    id: str
    name: str


class Money(TypedDict):
    """An amount in major units and its currency, as the docs' ``subscription["price"]``."""

    amount: float
    currency: str


# --- listings --------------------------------------------------------------------------------


class Listing(TypedDict):
    """The docs' ``data["listing"]`` of ``listing.created``; every listing event carries it."""

    id: str
    title: str
    price: float
    currency: str
    category: str
    status: str
    seller_id: str
    created_at: str
    description: NotRequired[str]
    mileage: NotRequired[int]
    url: NotRequired[str]


class UpdatedListing(Listing):
    updated_at: str
    changed_fields: NotRequired[list[str]]
    previous: NotRequired[dict[str, Any]]


class PublishedListing(Listing):
    published_at: str
    expires_at: NotRequired[str]
    featured: NotRequired[bool]


class UnpublishedListing(Listing):
    unpublished_at: str
    reason: NotRequired[Optional[str]]
    note: NotRequired[str]
    republish_allowed: NotRequired[bool]


class DeletedListing(Listing):
    deleted_at: str
    reason: NotRequired[Optional[str]]
    soft_delete: NotRequired[bool]


class SoldListing(Listing):
    sold_at: str
    sold_price: NotRequired[float]
    buyer: NotRequired[Optional[UserRef]]
    days_on_market: NotRequired[int]
    sold_via_platform: NotRequired[bool]


# --- messages, conversations, inquiries ------------------------------------------------------


class Message(TypedDict):
    """The docs' ``data["message"]`` of ``message.received``."""

    id: str
    conversation_id: str
    content: str
    sender: UserRef
    listing: ListingRef
    sent_at: str


class ReadMessage(Message):
    read_at: str
    read_by: UserRef


class ConversationParticipant(UserRef):
    role: str  # "buyer" or "seller"


class Conversation(TypedDict):
    id: str
    listing: ListingRef
    seller_id: str
    participants: list[ConversationParticipant]
    status: str
    created_at: str
    subject: NotRequired[str]


class InquiryBuyer(UserRef):
    company: NotRequired[str]
    country: NotRequired[str]
    email: NotRequired[str]
    phone: NotRequired[str]


class TradeIn(TypedDict):
    vehicle: str
    mileage: NotRequired[int]


class Inquiry(TypedDict):
    id: str
    listing: ListingRef
    seller_id: str
    buyer: InquiryBuyer
    type: str  # e.g. "price_request"
    message: str
    status: str
    created_at: str
    financing_requested: NotRequired[bool]
    trade_in: NotRequired[Optional[TradeIn]]


class InquiryResponse(TypedDict):
    content: str
    responder: UserRef
    offered_price: NotRequired[float]
    currency: NotRequired[str]


class RespondedInquiry(Inquiry):
    responded_at: str
    response: InquiryResponse
    response_time_seconds: NotRequired[int]


# --- subscriptions ---------------------------------------------------------------------------


class Subscription(TypedDict):
    """The docs' ``data["subscription"]`` of ``subscription.created``."""

    id: str
    plan: PlanRef
    user_id: str
    status: str
    billing_cycle: str  # e.g. "monthly", "yearly"
    price: Money
    created_at: str
    current_period_start: NotRequired[str]
    current_period_end: NotRequired[str]


class PreviousSubscription(TypedDict, total=False):
    plan: PlanRef
    billing_cycle: str
    price: Money


class Proration(TypedDict):
    credited_amount: float
    charged_amount: float
    currency: str


class UpdatedSubscription(Subscription):
    updated_at: str
    previous: NotRequired[PreviousSubscription]
    proration: NotRequired[Proration]


class Cancellation(TypedDict, total=False):
    reason: str
    initiated_by: str
    feedback: Optional[str]


class CanceledSubscription(Subscription):
    canceled_at: str
    cancel_at_period_end: NotRequired[bool]
    ends_at: NotRequired[Optional[str]]
    cancellation: NotRequired[Cancellation]


class RenewedSubscription(Subscription):
    renewed_at: str
    renewal_count: NotRequired[int]
    latest_invoice_id: NotRequired[str]


# --- payments and invoices -------------------------------------------------------------------


class PaymentMethod(TypedDict):
    type: str  # e.g. "card", "sepa_debit"
    brand: NotRequired[str]
    last4: NotRequired[str]
    exp_month: NotRequired[int]
    exp_year: NotRequired[int]
    bank: NotRequired[str]
    country: NotRequired[str]


class Payment(TypedDict):
    id: str
    amount: float
    currency: str
    status: str
    user_id: str
    created_at: str
    invoice_id: NotRequired[str]
    subscription_id: NotRequired[str]
    method: NotRequired[PaymentMethod]


class SucceededPayment(Payment):
    paid_at: str
    refunded: NotRequired[bool]


class PaymentFailure(TypedDict):
    code: str
    message: str


class FailedPayment(Payment):
    failure: PaymentFailure
    attempt: NotRequired[int]
    next_retry_at: NotRequired[Optional[str]]


class InvoiceLine(TypedDict):
    description: str
    quantity: int
    unit_amount: float
    amount: float


class Address(TypedDict):
    line1: str
    line2: NotRequired[Optional[str]]
    postal_code: str
    city: str
    country: str


class InvoiceCustomer(TypedDict):
    name: str
    vat_id: NotRequired[Optional[str]]
    address: NotRequired[Address]


class Tax(TypedDict):
    rate: float
    amount: float


class Invoice(TypedDict):
    id: str
    number: str
    user_id: str
    status: str
    currency: str
    amount: float  # the total
    created_at: str
    subscription_id: NotRequired[str]
    amount_due: NotRequired[float]
    amount_paid: NotRequired[float]
    customer: NotRequired[InvoiceCustomer]
    lines: NotRequired[list[InvoiceLine]]
    subtotal: NotRequired[float]
    tax: NotRequired[Tax]
    due_date: NotRequired[str]
    pdf_url: NotRequired[str]


class PaidInvoice(Invoice):
    paid_at: str
    payment_id: str


# --- users -----------------------------------------------------------------------------------


class Company(TypedDict):
    name: str
    vat_id: NotRequired[str]
    city: NotRequired[str]


class User(TypedDict):
    id: str
    name: str
    email: str
    role: str
    created_at: str
    seller_id: NotRequired[str]
    locale: NotRequired[str]
    country: NotRequired[str]
    company: NotRequired[Optional[Company]]
    email_verified: NotRequired[bool]
    phone_verified: NotRequired[bool]
    marketing_opt_in: NotRequired[bool]
    signup_source: NotRequired[str]


class Verification(TypedDict):
    type: str
    method: str
    documents: NotRequired[list[str]]
    reviewer: NotRequired[Optional[str]]


class VerifiedUser(User):
    verified_at: str
    verification: NotRequired[Verification]
    badges: NotRequired[list[str]]


# --- each event type's data, and its envelope ------------------------------------------------


class ListingCreatedData(TypedDict):
    listing: Listing


class ListingUpdatedData(TypedDict):
    listing: UpdatedListing


class ListingPublishedData(TypedDict):
    listing: PublishedListing


class ListingUnpublishedData(TypedDict):
    listing: UnpublishedListing


class ListingDeletedData(TypedDict):
    listing: DeletedListing


class ListingSoldData(TypedDict):
    listing: SoldListing


class MessageReceivedData(TypedDict):
    message: Message


class MessageReadData(TypedDict):
    message: ReadMessage


class ConversationCreatedData(TypedDict):
    conversation: Conversation


class InquiryCreatedData(TypedDict):
    inquiry: Inquiry


class InquiryRespondedData(TypedDict):
    inquiry: RespondedInquiry


class SubscriptionCreatedData(TypedDict):
    subscription: Subscription


class SubscriptionUpdatedData(TypedDict):
    subscription: UpdatedSubscription


class SubscriptionCanceledData(TypedDict):
    subscription: CanceledSubscription


class SubscriptionRenewedData(TypedDict):
    subscription: RenewedSubscription


class PaymentSucceededData(TypedDict):
    payment: SucceededPayment


class PaymentFailedData(TypedDict):
    payment: FailedPayment


class InvoiceCreatedData(TypedDict):
    invoice: Invoice


class InvoicePaidData(TypedDict):
    invoice: PaidInvoice


class UserCreatedData(TypedDict):
    user: User


class UserVerifiedData(TypedDict):
    user: VerifiedUser


class _Envelope(TypedDict):
    id: str
    created_at: str


class ListingCreatedEvent(_Envelope):
    type: Literal["listing.created"]
    data: ListingCreatedData


class ListingUpdatedEvent(_Envelope):
    type: Literal["listing.updated"]
    data: ListingUpdatedData


class ListingPublishedEvent(_Envelope):
    type: Literal["listing.published"]
    data: ListingPublishedData


class ListingUnpublishedEvent(_Envelope):
    type: Literal["listing.unpublished"]
    data: ListingUnpublishedData


class ListingDeletedEvent(_Envelope):
    type: Literal["listing.deleted"]
    data: ListingDeletedData


class ListingSoldEvent(_Envelope):
    type: Literal["listing.sold"]
    data: ListingSoldData


class MessageReceivedEvent(_Envelope):
    type: Literal["message.received"]
    data: MessageReceivedData


class MessageReadEvent(_Envelope):
    type: Literal["message.read"]
    data: MessageReadData


class ConversationCreatedEvent(_Envelope):
    type: Literal["conversation.created"]
    data: ConversationCreatedData


class InquiryCreatedEvent(_Envelope):
    type: Literal["inquiry.created"]
    data: InquiryCreatedData


class InquiryRespondedEvent(_Envelope):
    type: Literal["inquiry.responded"]
    data: InquiryRespondedData


class SubscriptionCreatedEvent(_Envelope):
    type: Literal["subscription.created"]
    data: SubscriptionCreatedData


class SubscriptionUpdatedEvent(_Envelope):
    type: Literal["subscription.updated"]
    data: SubscriptionUpdatedData


class SubscriptionCanceledEvent(_Envelope):
    type: Literal["subscription.canceled"]
    data: SubscriptionCanceledData


class SubscriptionRenewedEvent(_Envelope):
    type: Literal["subscription.renewed"]
    data: SubscriptionRenewedData


class PaymentSucceededEvent(_Envelope):
    type: Literal["payment.succeeded"]
    data: PaymentSucceededData


class PaymentFailedEvent(_Envelope):
    type: Literal["payment.failed"]
    data: PaymentFailedData


class InvoiceCreatedEvent(_Envelope):
    type: Literal["invoice.created"]
    data: InvoiceCreatedData


class InvoicePaidEvent(_Envelope):
    type: Literal["invoice.paid"]
    data: InvoicePaidData


class UserCreatedEvent(_Envelope):
    type: Literal["user.created"]
    data: UserCreatedData


class UserVerifiedEvent(_Envelope):
    type: Literal["user.verified"]
    data: UserVerifiedData


#: One of the 21 events, discriminated by ``event["type"]``. A receiver must still
#: acknowledge types it does not know: new ones can appear.
WebhookEvent = Union[
    ListingCreatedEvent,
    ListingUpdatedEvent,
    ListingPublishedEvent,
    ListingUnpublishedEvent,
    ListingDeletedEvent,
    ListingSoldEvent,
    MessageReceivedEvent,
    MessageReadEvent,
    ConversationCreatedEvent,
    InquiryCreatedEvent,
    InquiryRespondedEvent,
    SubscriptionCreatedEvent,
    SubscriptionUpdatedEvent,
    SubscriptionCanceledEvent,
    SubscriptionRenewedEvent,
    PaymentSucceededEvent,
    PaymentFailedEvent,
    InvoiceCreatedEvent,
    InvoicePaidEvent,
    UserCreatedEvent,
    UserVerifiedEvent,
]
