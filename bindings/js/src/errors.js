// The one error class of @menon/webhooks. Its `code` is the core's stable `code()` string
// (the same codes the Python SDK uses), or `invalid_body` / `invalid_header` for a JS value
// that has no byte form. `status` is the HTTP status a receiver should answer with.

const BRAND = Symbol.for('@menon/webhooks.WebhookVerificationError');

/** The HTTP status a receiver answers a refused delivery with, by error code. */
const STATUS = {
  // The request is not a valid, fresh Menon delivery: unauthorized.
  missing_signature: 401,
  unsupported_scheme: 401,
  malformed_signature: 401,
  signature_mismatch: 401,
  timestamp_too_old: 401,
  timestamp_in_future: 401,
  missing_header: 401,
  invalid_timestamp: 401,
  // The receiver has no secret configured: its own fault, not the sender's.
  no_secret: 500,
  invalid_secret: 500,
};

export class WebhookVerificationError extends Error {
  /**
   * @param {string} code stable snake_case code, e.g. `signature_mismatch`
   * @param {string} message what went wrong and what to do about it
   * @param {{ status?: number, cause?: unknown }} [options]
   */
  constructor(code, message, options = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    // 400 for a body or header that cannot be read, 413 for one too large.
    this.status = options.status ?? STATUS[code] ?? 400;
  }

  get name() {
    return 'WebhookVerificationError';
  }

  // `instanceof` also holds across copies of this package (the ESM and the CommonJS
  // build loaded in one process, or two installed versions).
  static [Symbol.hasInstance](value) {
    return value != null && value[BRAND] === true;
  }
}

Object.defineProperty(WebhookVerificationError.prototype, BRAND, { value: true });
