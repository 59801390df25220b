// Types of @menon/webhooks: every export of src/{node,browser,edge}.js (one API, any runtime).
// Hand-written; test/types.test.mjs compiles test/types-usage.ts against it with
// `tsc --strict` and checks the event-type list against the core's.

// ---------------------------------------------------------------------------------------
// Events

/** The 21 event types the Menon docs define. */
export type EventType =
  | 'listing.created'
  | 'listing.updated'
  | 'listing.published'
  | 'listing.unpublished'
  | 'listing.deleted'
  | 'listing.sold'
  | 'message.received'
  | 'message.read'
  | 'conversation.created'
  | 'inquiry.created'
  | 'inquiry.responded'
  | 'subscription.created'
  | 'subscription.updated'
  | 'subscription.canceled'
  | 'subscription.renewed'
  | 'payment.succeeded'
  | 'payment.failed'
  | 'invoice.created'
  | 'invoice.paid'
  | 'user.created'
  | 'user.verified';

/**
 * The envelope every delivery carries: `{"created_at", "data", "id", "type"}`, exactly these
 * four members. A test delivery is marked by the `X-Menon-Test: true` header, not in the body.
 */
export interface EventEnvelope<T extends string = EventType, D = Record<string, unknown>> {
  /** The event id (`evt_…`). Deliveries are at-least-once: deduplicate on it. */
  id: string;
  type: T;
  /** When the event happened: RFC 3339 UTC with seconds, e.g. `2024-01-15T10:30:00Z`. */
  created_at: string;
  data: D;
}

// The resources under `data`. The members of the docs' three examples (listing.created,
// message.received, subscription.created) are required; the others may be absent. Every
// object type also takes members that are not listed, so fields the docs add later stay
// assignable. Money is in major units (`85000` is EUR 85,000; `177.31` is USD 177.31).

/** A short reference to a listing, as in the docs' `message.listing`. */
export interface ListingRef {
  id: string;
  title: string;
  [field: string]: unknown;
}

/** A short reference to a person, as in the docs' `message.sender`. */
export interface UserRef {
  id: string;
  name: string;
  [field: string]: unknown;
}

/** A plan, as in the docs' `subscription.plan`. */
export interface PlanRef {
  id: string;
  name: string;
  [field: string]: unknown;
}

/** An amount in major units with its currency, as in the docs' `subscription.price`. */
export interface Money {
  amount: number;
  currency: string;
  [field: string]: unknown;
}

/** The docs' `data.listing` of `listing.created`; the other listing events carry it too. */
export interface Listing {
  id: string;
  title: string;
  /** In major units: `85000` with `currency: "EUR"` is EUR 85,000. */
  price: number;
  currency: string;
  category: string;
  status: string;
  seller_id: string;
  created_at: string;
  description?: string;
  mileage?: number;
  url?: string;
  [field: string]: unknown;
}

export interface UpdatedListing extends Listing {
  updated_at: string;
  /** The members that changed, e.g. `["price", "description"]`. */
  changed_fields?: string[];
  /** Their values before the change (`null`: there was none). */
  previous?: { [field: string]: unknown };
}

export interface PublishedListing extends Listing {
  published_at: string;
  expires_at?: string;
  featured?: boolean;
}

export interface UnpublishedListing extends Listing {
  unpublished_at: string;
  reason?: string | null;
  note?: string;
  republish_allowed?: boolean;
}

export interface DeletedListing extends Listing {
  deleted_at: string;
  reason?: string | null;
  soft_delete?: boolean;
}

export interface SoldListing extends Listing {
  sold_at: string;
  sold_price?: number;
  buyer?: UserRef | null;
  days_on_market?: number;
  sold_via_platform?: boolean;
}

/** The docs' `data.message` of `message.received`. */
export interface Message {
  id: string;
  conversation_id: string;
  content: string;
  sender: UserRef;
  listing: ListingRef;
  sent_at: string;
  [field: string]: unknown;
}

export interface ReadMessage extends Message {
  read_at: string;
  read_by: UserRef;
}

export interface ConversationParticipant extends UserRef {
  role: 'buyer' | 'seller' | (string & {});
}

export interface Conversation {
  id: string;
  listing: ListingRef;
  seller_id: string;
  participants: ConversationParticipant[];
  status: string;
  created_at: string;
  subject?: string;
  [field: string]: unknown;
}

export interface Inquiry {
  id: string;
  listing: ListingRef;
  seller_id: string;
  buyer: UserRef & { company?: string; country?: string; email?: string; phone?: string };
  /** e.g. `price_request`. */
  type: string;
  message: string;
  status: string;
  created_at: string;
  financing_requested?: boolean;
  trade_in?: { vehicle: string; mileage?: number; [field: string]: unknown } | null;
  [field: string]: unknown;
}

export interface InquiryResponse {
  content: string;
  responder: UserRef;
  offered_price?: number;
  currency?: string;
  [field: string]: unknown;
}

export interface RespondedInquiry extends Inquiry {
  responded_at: string;
  response: InquiryResponse;
  response_time_seconds?: number;
}

/** The docs' `data.subscription` of `subscription.created`. */
export interface Subscription {
  id: string;
  plan: PlanRef;
  user_id: string;
  status: string;
  /** e.g. `monthly`, `yearly`. */
  billing_cycle: string;
  price: Money;
  created_at: string;
  current_period_start?: string;
  current_period_end?: string;
  [field: string]: unknown;
}

export interface UpdatedSubscription extends Subscription {
  updated_at: string;
  /** The plan, billing cycle and price before the change. */
  previous?: { plan?: PlanRef; billing_cycle?: string; price?: Money; [field: string]: unknown };
  proration?: { credited_amount: number; charged_amount: number; currency: string; [field: string]: unknown };
}

export interface CanceledSubscription extends Subscription {
  canceled_at: string;
  cancel_at_period_end?: boolean;
  ends_at?: string | null;
  cancellation?: { reason?: string; initiated_by?: string; feedback?: string | null; [field: string]: unknown };
}

export interface RenewedSubscription extends Subscription {
  renewed_at: string;
  renewal_count?: number;
  latest_invoice_id?: string;
}

export interface PaymentMethod {
  /** e.g. `card`, `sepa_debit`. */
  type: string;
  brand?: string;
  last4?: string;
  exp_month?: number;
  exp_year?: number;
  bank?: string;
  country?: string;
  [field: string]: unknown;
}

export interface Payment {
  id: string;
  /** In major units, e.g. `177.31`. */
  amount: number;
  currency: string;
  status: string;
  user_id: string;
  created_at: string;
  invoice_id?: string;
  subscription_id?: string;
  method?: PaymentMethod;
  [field: string]: unknown;
}

export interface SucceededPayment extends Payment {
  paid_at: string;
  refunded?: boolean;
}

export interface FailedPayment extends Payment {
  failure: { code: string; message: string; [field: string]: unknown };
  attempt?: number;
  next_retry_at?: string | null;
}

export interface InvoiceLine {
  description: string;
  quantity: number;
  unit_amount: number;
  amount: number;
  [field: string]: unknown;
}

export interface Invoice {
  id: string;
  number: string;
  user_id: string;
  status: string;
  currency: string;
  /** The total, in major units. */
  amount: number;
  created_at: string;
  subscription_id?: string;
  amount_due?: number;
  amount_paid?: number;
  customer?: {
    name: string;
    vat_id?: string | null;
    address?: {
      line1: string;
      line2?: string | null;
      postal_code: string;
      city: string;
      country: string;
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
  lines?: InvoiceLine[];
  subtotal?: number;
  tax?: { rate: number; amount: number; [field: string]: unknown };
  due_date?: string;
  pdf_url?: string;
  [field: string]: unknown;
}

export interface PaidInvoice extends Invoice {
  paid_at: string;
  payment_id: string;
}

export interface User {
  id: string;
  name: string;
  email: string;
  role: string;
  created_at: string;
  seller_id?: string;
  locale?: string;
  country?: string;
  company?: { name: string; vat_id?: string; city?: string; [field: string]: unknown } | null;
  email_verified?: boolean;
  phone_verified?: boolean;
  marketing_opt_in?: boolean;
  signup_source?: string;
  [field: string]: unknown;
}

export interface VerifiedUser extends User {
  verified_at: string;
  verification?: {
    type: string;
    method: string;
    documents?: string[];
    reviewer?: string | null;
    [field: string]: unknown;
  };
  badges?: string[];
}

// Each event type's `data`: one resource, named after the type's first part.

export interface ListingCreatedData { listing: Listing; [field: string]: unknown }
export interface ListingUpdatedData { listing: UpdatedListing; [field: string]: unknown }
export interface ListingPublishedData { listing: PublishedListing; [field: string]: unknown }
export interface ListingUnpublishedData { listing: UnpublishedListing; [field: string]: unknown }
export interface ListingDeletedData { listing: DeletedListing; [field: string]: unknown }
export interface ListingSoldData { listing: SoldListing; [field: string]: unknown }
export interface MessageReceivedData { message: Message; [field: string]: unknown }
export interface MessageReadData { message: ReadMessage; [field: string]: unknown }
export interface ConversationCreatedData { conversation: Conversation; [field: string]: unknown }
export interface InquiryCreatedData { inquiry: Inquiry; [field: string]: unknown }
export interface InquiryRespondedData { inquiry: RespondedInquiry; [field: string]: unknown }
export interface SubscriptionCreatedData { subscription: Subscription; [field: string]: unknown }
export interface SubscriptionUpdatedData { subscription: UpdatedSubscription; [field: string]: unknown }
export interface SubscriptionCanceledData { subscription: CanceledSubscription; [field: string]: unknown }
export interface SubscriptionRenewedData { subscription: RenewedSubscription; [field: string]: unknown }
export interface PaymentSucceededData { payment: SucceededPayment; [field: string]: unknown }
export interface PaymentFailedData { payment: FailedPayment; [field: string]: unknown }
export interface InvoiceCreatedData { invoice: Invoice; [field: string]: unknown }
export interface InvoicePaidData { invoice: PaidInvoice; [field: string]: unknown }
export interface UserCreatedData { user: User; [field: string]: unknown }
export interface UserVerifiedData { user: VerifiedUser; [field: string]: unknown }

/** Each event type's `data`. */
export interface EventDataMap {
  'listing.created': ListingCreatedData;
  'listing.updated': ListingUpdatedData;
  'listing.published': ListingPublishedData;
  'listing.unpublished': ListingUnpublishedData;
  'listing.deleted': ListingDeletedData;
  'listing.sold': ListingSoldData;
  'message.received': MessageReceivedData;
  'message.read': MessageReadData;
  'conversation.created': ConversationCreatedData;
  'inquiry.created': InquiryCreatedData;
  'inquiry.responded': InquiryRespondedData;
  'subscription.created': SubscriptionCreatedData;
  'subscription.updated': SubscriptionUpdatedData;
  'subscription.canceled': SubscriptionCanceledData;
  'subscription.renewed': SubscriptionRenewedData;
  'payment.succeeded': PaymentSucceededData;
  'payment.failed': PaymentFailedData;
  'invoice.created': InvoiceCreatedData;
  'invoice.paid': InvoicePaidData;
  'user.created': UserCreatedData;
  'user.verified': UserVerifiedData;
}

export type ListingCreatedEvent = EventEnvelope<'listing.created', ListingCreatedData>;
export type ListingUpdatedEvent = EventEnvelope<'listing.updated', ListingUpdatedData>;
export type ListingPublishedEvent = EventEnvelope<'listing.published', ListingPublishedData>;
export type ListingUnpublishedEvent = EventEnvelope<'listing.unpublished', ListingUnpublishedData>;
export type ListingDeletedEvent = EventEnvelope<'listing.deleted', ListingDeletedData>;
export type ListingSoldEvent = EventEnvelope<'listing.sold', ListingSoldData>;
export type MessageReceivedEvent = EventEnvelope<'message.received', MessageReceivedData>;
export type MessageReadEvent = EventEnvelope<'message.read', MessageReadData>;
export type ConversationCreatedEvent = EventEnvelope<'conversation.created', ConversationCreatedData>;
export type InquiryCreatedEvent = EventEnvelope<'inquiry.created', InquiryCreatedData>;
export type InquiryRespondedEvent = EventEnvelope<'inquiry.responded', InquiryRespondedData>;
export type SubscriptionCreatedEvent = EventEnvelope<'subscription.created', SubscriptionCreatedData>;
export type SubscriptionUpdatedEvent = EventEnvelope<'subscription.updated', SubscriptionUpdatedData>;
export type SubscriptionCanceledEvent = EventEnvelope<'subscription.canceled', SubscriptionCanceledData>;
export type SubscriptionRenewedEvent = EventEnvelope<'subscription.renewed', SubscriptionRenewedData>;
export type PaymentSucceededEvent = EventEnvelope<'payment.succeeded', PaymentSucceededData>;
export type PaymentFailedEvent = EventEnvelope<'payment.failed', PaymentFailedData>;
export type InvoiceCreatedEvent = EventEnvelope<'invoice.created', InvoiceCreatedData>;
export type InvoicePaidEvent = EventEnvelope<'invoice.paid', InvoicePaidData>;
export type UserCreatedEvent = EventEnvelope<'user.created', UserCreatedData>;
export type UserVerifiedEvent = EventEnvelope<'user.verified', UserVerifiedData>;

/**
 * A delivery's event, discriminated by `type`: `switch (event.type)` narrows `data`.
 * A receiver must still acknowledge types it does not know (new ones can appear); at run
 * time `type` can be a string outside this list.
 */
export type WebhookEvent =
  | ListingCreatedEvent
  | ListingUpdatedEvent
  | ListingPublishedEvent
  | ListingUnpublishedEvent
  | ListingDeletedEvent
  | ListingSoldEvent
  | MessageReceivedEvent
  | MessageReadEvent
  | ConversationCreatedEvent
  | InquiryCreatedEvent
  | InquiryRespondedEvent
  | SubscriptionCreatedEvent
  | SubscriptionUpdatedEvent
  | SubscriptionCanceledEvent
  | SubscriptionRenewedEvent
  | PaymentSucceededEvent
  | PaymentFailedEvent
  | InvoiceCreatedEvent
  | InvoicePaidEvent
  | UserCreatedEvent
  | UserVerifiedEvent;

// ---------------------------------------------------------------------------------------
// Arguments

/** The webhook's secret (`whsec_…`), or several during a rotation, the newest first. */
export type Secret = string | readonly string[];

/**
 * A request body: the raw bytes as received (string, Buffer/Uint8Array, ArrayBuffer or
 * another view), or the already-parsed JSON, which is canonicalized (RFC 8785) to rebuild
 * the signed bytes.
 */
export type Body = string | Uint8Array | ArrayBuffer | ArrayBufferView | object | number | boolean | null;

/** What `.get(name)` reads case-insensitively, e.g. a Fetch API `Headers`. */
export interface HeadersGetter {
  get(name: string): string | null;
}

/** Request headers: a Fetch `Headers`, Node's `req.headers`, or a plain object, any case. */
export type HeadersLike =
  | HeadersGetter
  | ReadonlyMap<string, string | readonly string[] | undefined>
  | { readonly [name: string]: string | readonly string[] | undefined };

/** Clock and tolerance of a verification. */
export interface VerifyOptions {
  /**
   * The current time in unix seconds, or a function returning it. Default:
   * `Math.floor(Date.now() / 1000)`.
   */
  now?: number | (() => number);
  /** The largest accepted difference between the v2 timestamp and `now`, in seconds. Default 300. */
  tolerance?: number;
  /**
   * Refuse deliveries without `X-Menon-Signature-V2` (`missing_signature`), even when their
   * `X-Menon-Signature` is valid. Default `false`: the docs' v1 scheme stays valid, but v1
   * carries no timestamp, so a captured delivery with its v2 header stripped can be
   * replayed. Turn it on when every sender signs v2 (Menon's server does).
   */
  requireV2?: boolean;
}

export interface SignOptions {
  /** The v2 timestamp, unix seconds. Default: now. */
  timestamp?: number;
  /** `X-Menon-Event`. Default: the body's `type`, when it is an envelope. */
  eventType?: string;
  /** `X-Menon-Event-Id`. Default: the body's `id`, when it is an envelope. */
  eventId?: string;
  /** `X-Menon-Delivery`, sent only when given. */
  deliveryId?: string;
  /** `true` marks a test delivery with `X-Menon-Test: true` (the body stays a plain envelope). */
  test?: boolean;
}

/** The headers a Menon sender sends with a body. */
export interface SignedHeaders {
  'Content-Type': 'application/json';
  'X-Menon-Timestamp': string;
  /** `sha256=<hex>`, signed with the newest secret. */
  'X-Menon-Signature': string;
  /** `t=<unix>,v2=<hex>`, one `v2` entry per secret. */
  'X-Menon-Signature-V2': string;
  'X-Menon-Event'?: string;
  'X-Menon-Event-Id'?: string;
  'X-Menon-Delivery'?: string;
  /** `true`, on test deliveries only. */
  'X-Menon-Test'?: 'true';
  [name: string]: string | undefined;
}

/** The part of a Fetch API `Request` that verification reads. */
export interface RequestLike {
  readonly headers: HeadersGetter;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface RequestVerifyOptions extends VerifyOptions {
  /** The largest body read, in bytes; a larger one is refused (`invalid_body`, status 413). Default 1 MiB. */
  limit?: number;
}

export interface ExpressMiddlewareOptions extends RequestVerifyOptions {
  /**
   * Called instead of answering `err.status` with
   * `{"success": false, "error": {"code", "message"}}`.
   */
  onError?: (err: WebhookVerificationError, req: any, res: any, next: (err?: unknown) => void) => void;
}

// ---------------------------------------------------------------------------------------
// Errors

/** Codes of a refused delivery: the core's, unchanged, shared with the Python SDK. */
export type VerifyErrorCode =
  | 'no_secret'
  | 'missing_signature'
  | 'unsupported_scheme'
  | 'malformed_signature'
  | 'signature_mismatch'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'invalid_secret'
  | 'missing_header'
  | 'invalid_timestamp';

/** Codes of a body that is not (RFC 8785) JSON: the core's canonicalize refusals. */
export type CanonicalizeErrorCode =
  | 'invalid_json'
  | 'invalid_utf8'
  | 'lone_surrogate'
  | 'duplicate_key'
  | 'number_out_of_range'
  | 'trailing_data'
  | 'too_deep'
  | 'too_large';

/**
 * `invalid_envelope`: validly signed JSON that is not an event object (an array, a string, …).
 * `invalid_body`: a value with no byte or JSON form (BigInt, a cycle, NaN, a string with a
 * lone surrogate, no body at all, or one over the size limit); `invalid_header`: a header
 * value that is not a string.
 */
export type ErrorCode =
  | VerifyErrorCode
  | CanonicalizeErrorCode
  | 'invalid_envelope'
  | 'invalid_body'
  | 'invalid_header';

export class WebhookVerificationError extends Error {
  constructor(code: ErrorCode, message: string, options?: { status?: number; cause?: unknown });
  /** Stable: switch on it, never on the message. */
  readonly code: ErrorCode;
  /** The HTTP status to answer with: 401 (signature), 400 (body or header), 413 (too large), 500 (no secret). */
  readonly status: number;
  readonly name: 'WebhookVerificationError';
}

// ---------------------------------------------------------------------------------------
// The API

/** Which build runs here: the native Node addon, or WebAssembly. */
export const backend: 'native' | 'wasm';
/** The v2 timestamp tolerance unless told otherwise: 300 seconds. */
export const DEFAULT_TOLERANCE: number;
/** The 21 event types, in the docs' order. */
export const EVENT_TYPES: readonly EventType[];

/**
 * Verifies a delivery and returns its event, parsed. Uses `X-Menon-Signature-V2` when the
 * request has it (timestamp within the tolerance of now), else `X-Menon-Signature`.
 * @throws {WebhookVerificationError} with a stable `code`
 */
export function verify<E = WebhookEvent>(body: Body, headers: HeadersLike, secret: Secret, options?: VerifyOptions): E;

/**
 * The docs' `verifyWebhook(payload, signature, secret)`: is `signature` (the
 * `X-Menon-Signature` value) the signature of `payload`? False for any bad input; never throws.
 */
export function verifySignature(payload: Body, signature: string | null | undefined, secret: Secret): boolean;

/** The headers a sender sends with `body` (so you can test your receiver). */
export function sign(body: Body, secret: Secret, options?: SignOptions): SignedHeaders;

/**
 * The RFC 8785 canonical JSON of a value, of JSON text (string) or of JSON bytes.
 * @throws {WebhookVerificationError} `invalid_json`, `duplicate_key`, `invalid_body`, …
 */
export function canonicalize(value: Body): string;

/** Verifies a Fetch API `Request` (Next.js route handlers, Workers, Deno, Bun). */
export function verifyRequest<E = WebhookEvent>(request: RequestLike, secret: Secret, options?: RequestVerifyOptions): Promise<E>;

/**
 * A `(request) => Promise<event>` verifier. The secret is checked at the first request,
 * so it can be made at module scope of a route that is built without the secret set.
 */
export function createRequestVerifier<E = WebhookEvent>(
  secret: Secret | Webhook,
  options?: RequestVerifyOptions,
): (request: RequestLike) => Promise<E>;

/**
 * Express (or node:http) middleware: reads the raw body (or uses what `express.raw()`,
 * `express.text()` or `express.json()` left), verifies it, sets `req.menonEvent` (and
 * `req.body`, when it read the body itself), else answers `err.status` (401 for a bad
 * signature) with `{"success": false, "error": {"code", "message"}}`.
 */
export function expressMiddleware(
  secret: Secret | Webhook,
  options?: ExpressMiddlewareOptions,
): (req: any, res: any, next: (err?: unknown) => void) => void;

/**
 * A Standard Webhooks secret or key, called as npm `standardwebhooks`' `Webhook` is, so
 * switching is the import. `whsec_…` (or the key's bytes) verifies and signs `v1`
 * (HMAC-SHA256); `whpk_…` verifies `v1a` (Ed25519, strict); `whsk_…` signs `v1a` and
 * verifies with its public key. A malformed key throws `invalid_secret`.
 */
export class StandardWebhook {
  constructor(secret: string | Uint8Array | ArrayBuffer);
  /**
   * Checks `webhook-id`, `webhook-timestamp` (5 minutes either way) and
   * `webhook-signature`; returns the payload parsed as JSON.
   */
  verify(
    payload: string | Uint8Array | ArrayBuffer,
    headers: HeadersLike,
    /** `jsonParse: false` skips parsing and returns `undefined`, as npm `standardwebhooks`. */
    options?: { now?: number | (() => number); jsonParse?: boolean },
  ): unknown;
  /** The `webhook-signature` value: `v1,<base64>` or `v1a,<base64>`. */
  sign(msgId: string, timestamp: Date | number, payload: string | Uint8Array | ArrayBuffer): string;
  /** The `whpk_…` public key of an Ed25519 key; undefined for an HMAC secret. */
  readonly publicKey: string | undefined;
}

/** A webhook's secrets keyed once, for many verifications. */
export class Webhook {
  /** @throws {WebhookVerificationError} `no_secret` when the secret is empty or missing */
  constructor(secret: Secret, options?: VerifyOptions);
  verify<E = WebhookEvent>(body: Body, headers: HeadersLike, options?: VerifyOptions): E;
  sign(body: Body, options?: SignOptions): SignedHeaders;
  verifyRequest<E = WebhookEvent>(request: RequestLike, options?: RequestVerifyOptions): Promise<E>;
}

declare global {
  namespace Express {
    interface Request {
      /** The verified event, set by `expressMiddleware()` from @menon/webhooks. */
      menonEvent?: WebhookEvent;
    }
  }
}
