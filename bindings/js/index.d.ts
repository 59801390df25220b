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

/** The envelope every delivery carries: `{"created_at", "data", "id", "type"}`. */
export interface EventEnvelope<T extends string = EventType, D = Record<string, unknown>> {
  /** The event id (`evt_…`). Deliveries are at-least-once: deduplicate on it. */
  id: string;
  type: T;
  /** When the event happened: RFC 3339 UTC with seconds, e.g. `2024-01-15T10:30:00Z`. */
  created_at: string;
  data: D;
  /** `true` on test events sent from the dashboard or a `/test` endpoint. */
  test?: boolean;
}

export interface Listing {
  id: string;
  title: string;
  status: string;
  slug?: string;
  category?: string;
  subcategory?: string;
  brand?: string;
  model?: string;
  year?: number;
  condition?: string;
  price?: number;
  currency?: string;
  mileage?: number;
  mileage_unit?: string;
  description?: string;
  features?: string[];
  images?: { position: number; url: string }[];
  specs?: Record<string, string | number | boolean | null>;
  seller?: {
    id: string;
    name: string;
    type?: string;
    verified?: boolean;
    location?: { city?: string; country?: string; postal_code?: string };
  };
  vat_deductible?: boolean;
  created_at?: string;
  [field: string]: unknown;
}

export interface MessageParty {
  id: string;
  name: string;
  role: 'buyer' | 'seller' | (string & {});
}

export interface Message {
  id: string;
  conversation_id: string;
  body: string;
  sender: MessageParty;
  recipient: MessageParty;
  listing_id?: string;
  attachments?: unknown[];
  sent_at?: string;
  [field: string]: unknown;
}

export interface Subscription {
  id: string;
  status: string;
  plan: {
    id: string;
    name: string;
    amount: number;
    currency: string;
    interval: string;
    [field: string]: unknown;
  };
  seller_id?: string;
  user_id?: string;
  current_period_start?: string;
  current_period_end?: string;
  cancel_at_period_end?: boolean;
  trial?: boolean;
  limits?: Record<string, number>;
  [field: string]: unknown;
}

export interface ListingCreatedData {
  listing: Listing;
  [field: string]: unknown;
}
export interface MessageReceivedData {
  message: Message;
  [field: string]: unknown;
}
export interface SubscriptionCreatedData {
  subscription: Subscription;
  [field: string]: unknown;
}

export type ListingCreatedEvent = EventEnvelope<'listing.created', ListingCreatedData>;
export type MessageReceivedEvent = EventEnvelope<'message.received', MessageReceivedData>;
export type SubscriptionCreatedEvent = EventEnvelope<'subscription.created', SubscriptionCreatedData>;

/** Event types whose `data` is typed here only as a JSON object. */
export type GenericEventType = Exclude<EventType, 'listing.created' | 'message.received' | 'subscription.created'>;
/** One envelope per generic event type (a union, so `type` still narrows). */
export type GenericEvent = { [T in GenericEventType]: EventEnvelope<T, Record<string, unknown>> }[GenericEventType];

/**
 * A delivery's event, discriminated by `type`: `switch (event.type)` narrows `data`.
 * A receiver must still acknowledge types it does not know (new ones can appear); at run
 * time `type` can be a string outside this list.
 */
export type WebhookEvent = ListingCreatedEvent | MessageReceivedEvent | SubscriptionCreatedEvent | GenericEvent;

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
  | 'timestamp_in_future';

/** Codes of a body that is not (RFC 8785) JSON: the core's canonicalize refusals. */
export type CanonicalizeErrorCode =
  | 'invalid_json'
  | 'invalid_utf8'
  | 'lone_surrogate'
  | 'duplicate_key'
  | 'number_out_of_range'
  | 'trailing_data'
  | 'too_deep';

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
