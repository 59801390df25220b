// The public API of @menon/webhooks, written once over a "backend": the native Node addon
// (bindings/node, napi-rs) or the WebAssembly build (bindings/wasm, wasm-bindgen). Both
// export the same low-level surface (see the crates' lib.rs):
//
//   new Verifier(secrets)                            keyed HMAC state, newest secret first
//     .verifyDelivery(bytes, v1?, v2?, now, tolerance) -> index of the secret that matched
//     .verifyDeliveryStr(text, ...)                  the same over a string's UTF-8 bytes
//     .sign(bytes) / .signStr(text)                  X-Menon-Signature
//     .signV2(t, bytes) / .signV2Str(t, text)        X-Menon-Signature-V2
//     .deliveryHeaders(bytes, t, type?, id?, delivery?, test?) / .deliveryHeadersStr(text, ...)
//                                                    PROTOCOL §2 headers, [name, value, …]
//   verifySignature(secret, bytes, header) / verifySignatureStr(...)  -> boolean
//   canonicalize(text) / canonicalizeBytes(bytes)    RFC 8785
//   eventTypes(), defaultTolerance()
//   new StandardKey(text) / StandardKey.fromBytes(key)   Standard Webhooks, by prefix
//     .verify(id, t, signature, bytes, now) / .verifyStr(...)  -> the timestamp
//     .sign(id, t, bytes) / .signStr(...), .publicKey()
//
// Every protocol rule (v2 when present, header trimming, the tolerance check, which secret
// signs, which headers a delivery carries) is the core's. This layer only converts JS
// values into those arguments, maps errors to WebhookVerificationError, reads the clock
// (the core reads none), and adapts to Express and fetch. Everything is synchronous but
// reading a request body.

import { WebhookVerificationError } from './errors.js';

const V1_HEADER = 'x-menon-signature';
const V2_HEADER = 'x-menon-signature-v2';
/** Default largest body the framework helpers read, in bytes. */
const DEFAULT_LIMIT = 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const toString = Object.prototype.toString;

/**
 * @param {object} backend the low-level surface (the napi addon's exports or the
 *   initialised wasm-bindgen module)
 * @param {'native' | 'wasm'} name which one it is
 */
export function createApi(backend, name) {
  const DEFAULT_TOLERANCE = backend.defaultTolerance();
  const EVENT_TYPES = Object.freeze(backend.eventTypes());

  // -------------------------------------------------------------------------------------
  // Calling the backend: its errors carry the core's code; they become ours.

  function call(fn, onMismatch) {
    try {
      return fn();
    } catch (e) {
      if (e != null && typeof e.code === 'string' && /^[a-z][a-z0-9_]*$/.test(e.code)) {
        const message = e.code === 'signature_mismatch' && onMismatch ? onMismatch() : e.message;
        throw new WebhookVerificationError(e.code, message);
      }
      throw e;
    }
  }

  function newVerifier(secrets) {
    return call(() => new backend.Verifier(secretList(secrets)));
  }

  // One-shot calls (verify(), sign(), verifySignature() with several secrets) reuse the
  // Verifier of the last secrets seen, so that the common `verify(body, headers,
  // process.env.SECRET)` keys its HMAC once, not on every request.
  let lastKey;
  let lastVerifier;
  function cachedVerifier(secrets) {
    const list = secretList(secrets);
    const key = list.length === 1 ? '1' + list[0] : JSON.stringify(list);
    if (key !== lastKey) {
      const verifier = call(() => new backend.Verifier(list));
      if (lastVerifier && typeof lastVerifier.free === 'function') lastVerifier.free();
      lastKey = key;
      lastVerifier = verifier;
    }
    return lastVerifier;
  }

  /**
   * The body as the backend takes it: `{ text }`, `{ bytes }`, or `{ text, parsed }` for an
   * already-parsed value, whose text is its RFC 8785 canonical form: the bytes the server
   * signed.
   */
  function bodyInput(body, what) {
    const raw = rawInput(body, what);
    if (raw !== undefined) return raw;
    const text = jsonText(body);
    return { text: call(() => backend.canonicalize(text)), parsed: body };
  }

  // -------------------------------------------------------------------------------------
  // The operations, over a prepared Verifier.

  function verifyWith(verifier, body, headers, options, defaults) {
    const input = bodyInput(body, 'verify');
    const [v1, v2] = signatureHeaders(headers);
    const now = resolveNow(options?.now ?? defaults?.now);
    const tolerance = seconds('tolerance', options?.tolerance ?? defaults?.tolerance ?? DEFAULT_TOLERANCE);
    const requireV2 = flag('requireV2', options?.requireV2 ?? defaults?.requireV2);
    if (input.text !== undefined) {
      const onMismatch = input.parsed === undefined ? undefined : parsedMismatch;
      call(() => verifier.verifyDeliveryStr(input.text, v1, v2, now, tolerance, requireV2), onMismatch);
      return eventObject(input.parsed === undefined ? parseEvent(input.text) : input.parsed);
    }
    call(() => verifier.verifyDelivery(input.bytes, v1, v2, now, tolerance, requireV2));
    return eventObject(parseEvent(decodeUtf8(input.bytes)));
  }

  function signWith(verifier, body, options = {}) {
    const input = bodyInput(body, 'sign');
    const timestamp = options.timestamp == null ? resolveNow(undefined) : seconds('timestamp', options.timestamp);
    const envelope = input.parsed ?? tryParse(input);
    const type = options.eventType ?? (typeof envelope?.type === 'string' ? envelope.type : undefined);
    const id = options.eventId ?? (typeof envelope?.id === 'string' ? envelope.id : undefined);
    const event = type === undefined ? undefined : String(type);
    const eventId = id === undefined ? undefined : String(id);
    const delivery = options.deliveryId === undefined ? undefined : String(options.deliveryId);
    const test = options.test === true;
    const pairs =
      input.text !== undefined
        ? verifier.deliveryHeadersStr(input.text, timestamp, event, eventId, delivery, test)
        : verifier.deliveryHeaders(input.bytes, timestamp, event, eventId, delivery, test);
    /** @type {Record<string, string>} */
    const headers = {};
    for (let i = 0; i < pairs.length; i += 2) headers[pairs[i]] = pairs[i + 1];
    return headers;
  }

  async function verifyRequestWith(webhook, request, options) {
    if (request == null || typeof request.arrayBuffer !== 'function' || request.headers == null) {
      throw new TypeError(`verifyRequest expects a Fetch API Request, got ${describe(request)}`);
    }
    if (request.bodyUsed) {
      throw new WebhookVerificationError(
        'invalid_body',
        'the request body was already read, so its raw bytes are gone: verify before reading ' +
          'the body (the event is returned parsed), or pass request.clone()',
      );
    }
    const limit = bodyLimit(options?.limit);
    const declared = Number(request.headers.get('content-length'));
    if (declared > limit) throw tooLarge(declared, limit);
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.length > limit) throw tooLarge(body.length, limit);
    return webhook.verify(body, request.headers, options);
  }

  // -------------------------------------------------------------------------------------
  // The public API.

  class Webhook {
    #verifier;
    #defaults;

    /**
     * @param {string | string[]} secret the webhook's secret (whsec_…), or several during
     *   a rotation, the newest first
     * @param {{ tolerance?: number, now?: number | (() => number), requireV2?: boolean }} [options]
     */
    constructor(secret, options = {}) {
      this.#verifier = newVerifier(secret);
      this.#defaults = {
        tolerance: options.tolerance == null ? undefined : seconds('tolerance', options.tolerance),
        now: options.now,
        requireV2: flag('requireV2', options.requireV2),
      };
    }

    verify(body, headers, options) {
      return verifyWith(this.#verifier, body, headers, options, this.#defaults);
    }

    sign(body, options) {
      return signWith(this.#verifier, body, options);
    }

    verifyRequest(request, options) {
      return verifyRequestWith(this, request, options);
    }
  }

  function verify(body, headers, secret, options) {
    return verifyWith(cachedVerifier(secret), body, headers, options);
  }

  function sign(body, secret, options) {
    return signWith(cachedVerifier(secret), body, options);
  }

  function verifySignature(payload, signature, secret) {
    try {
      if (typeof signature !== 'string') return false;
      const input = bodyInput(payload, 'verifySignature');
      if (typeof secret === 'string') {
        return input.text !== undefined
          ? backend.verifySignatureStr(secret, input.text, signature)
          : backend.verifySignature(secret, input.bytes, signature);
      }
      const verifier = cachedVerifier(secret);
      // Only the v1 header given: the core checks X-Menon-Signature.
      if (input.text !== undefined) verifier.verifyDeliveryStr(input.text, signature, undefined, 0, 0);
      else verifier.verifyDelivery(input.bytes, signature, undefined, 0, 0);
      return true;
    } catch {
      return false;
    }
  }

  function canonicalize(value) {
    if (typeof value === 'string') {
      if (!isWellFormed(value)) {
        throw new WebhookVerificationError(
          'lone_surrogate',
          `the text has a lone surrogate at index ${loneSurrogateAt(value)}: it has no UTF-8 form; ` +
            'a JSON string must escape it as \\uXXXX, and RFC 8785 refuses even that',
        );
      }
      return call(() => backend.canonicalize(value));
    }
    const bytes = asBytes(value);
    if (bytes !== undefined) return call(() => backend.canonicalizeBytes(bytes));
    const text = jsonText(value);
    return call(() => backend.canonicalize(text));
  }

  function verifyRequest(request, secret, options) {
    return verifyRequestWith({ verify: (b, h, o) => verify(b, h, secret, o) }, request, options);
  }

  function createRequestVerifier(secret, options = {}) {
    // Built at the first request, so that a module-level helper does not throw while a
    // framework imports the module at build time without the secret in the environment.
    let webhook = isWebhook(secret) ? secret : undefined;
    return (request) => {
      try {
        webhook ??= new Webhook(secret, options);
      } catch (e) {
        return Promise.reject(e);
      }
      return verifyRequestWith(webhook, request, options);
    };
  }

  function expressMiddleware(secret, options = {}) {
    const webhook = isWebhook(secret) ? secret : new Webhook(secret, options);
    const limit = bodyLimit(options.limit);
    const onError = options.onError;
    return function menonWebhook(req, res, next) {
      const refuse = (err) => {
        if (!(err instanceof WebhookVerificationError)) return next(err);
        if (onError) return onError(err, req, res, next);
        if (res.headersSent) return next(err);
        res.statusCode = err.status;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        if (err.status === 413) res.setHeader('Connection', 'close');
        res.end(JSON.stringify({ success: false, error: { code: err.code, message: err.message } }));
      };
      let source;
      try {
        source = bodySource(req);
      } catch (e) {
        return refuse(e);
      }
      const accept = (body, readHere) => {
        let event;
        try {
          event = webhook.verify(body, req.headers, options);
        } catch (e) {
          return refuse(e);
        }
        req.menonEvent = event;
        if (readHere) {
          // As express.json() would have left it, for the handlers after this one.
          req.rawBody = body;
          req.body = event;
        }
        next();
      };
      // .catch: an onError that throws goes to Express's error handling, not unhandled.
      if (source.read) readBody(req, limit).then((body) => accept(body, true), refuse).catch(next);
      else accept(source.body, false);
    };
  }

  // -------------------------------------------------------------------------------------
  // Standard Webhooks: called as npm `standardwebhooks`' Webhook is, so switching is the
  // import. The key's prefix says the version (the core's StandardKey).

  class StandardWebhook {
    #key;

    constructor(secret) {
      if (typeof secret === 'string') {
        this.#key = call(() => new backend.StandardKey(secret));
        return;
      }
      const bytes = asBytes(secret);
      if (bytes === undefined) {
        throw new TypeError(
          `the Standard Webhooks secret must be a string (whsec_…, whpk_… or whsk_…) or the key's bytes, got ${describe(secret)}`,
        );
      }
      this.#key = backend.StandardKey.fromBytes(bytes);
    }

    /**
     * Checks webhook-id, webhook-timestamp and webhook-signature; returns the payload parsed,
     * or `undefined` with `{ jsonParse: false }` (as npm `standardwebhooks` does).
     */
    verify(payload, headers, options = {}) {
      const input = rawInput(payload, 'verify');
      if (input === undefined) {
        throw new WebhookVerificationError(
          'invalid_body',
          `verify() takes the raw payload (a string or bytes), got ${describe(payload)}`,
        );
      }
      const [id, timestamp, signature] = standardHeaders(headers);
      const now = resolveNow(options.now);
      const key = this.#key;
      call(() =>
        input.text !== undefined
          ? key.verifyStr(id, timestamp, signature, input.text, now)
          : key.verify(id, timestamp, signature, input.bytes, now),
      );
      if (options.jsonParse === false) return undefined;
      return parseEvent(input.text ?? decodeUtf8(input.bytes));
    }

    /** The webhook-signature value of a message: `v1,<base64>` or `v1a,<base64>`. */
    sign(msgId, timestamp, payload) {
      if (typeof msgId !== 'string') throw new TypeError(`msgId must be a string, got ${describe(msgId)}`);
      const t =
        timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : seconds('timestamp', timestamp);
      const input = rawInput(payload, 'sign');
      if (input === undefined) {
        throw new WebhookVerificationError('invalid_body', `sign() takes the payload as a string or bytes, got ${describe(payload)}`);
      }
      const key = this.#key;
      return call(() =>
        input.text !== undefined ? key.signStr(msgId, t, input.text) : key.sign(msgId, t, input.bytes),
      );
    }

    /** The `whpk_…` public key of an Ed25519 key; undefined for an HMAC secret. */
    get publicKey() {
      return this.#key.publicKey() ?? undefined;
    }
  }

  return {
    backend: name,
    DEFAULT_TOLERANCE,
    EVENT_TYPES,
    StandardWebhook,
    Webhook,
    WebhookVerificationError,
    verify,
    verifySignature,
    sign,
    canonicalize,
    verifyRequest,
    createRequestVerifier,
    expressMiddleware,
  };
}

// ---------------------------------------------------------------------------------------
// Argument conversion, shared by both backends.

/** A Webhook, also from another copy of this package (ESM and CommonJS in one process). */
function isWebhook(value) {
  return value != null && typeof value === 'object' && typeof value.verify === 'function' && typeof value.verifyRequest === 'function';
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  if (t === 'object') return `an object (${toString.call(value).slice(8, -1)})`;
  return t === 'undefined' ? 'undefined' : `a ${t}`;
}

/** The secrets as the core takes them; null and undefined count as empty (unset env). */
function secretList(secret) {
  if (typeof secret === 'string') return [secret];
  if (secret == null) return [];
  if (Array.isArray(secret)) {
    return secret.map((s, i) => {
      if (s == null) return '';
      if (typeof s === 'string') return s;
      throw new WebhookVerificationError(
        'no_secret',
        `secret ${i} is ${describe(s)}: each secret must be a string (whsec_…)`,
      );
    });
  }
  throw new WebhookVerificationError(
    'no_secret',
    `the secret is ${describe(secret)}: pass the webhook's secret (whsec_…) as a string, ` +
      'or an array of strings, the newest first, during a rotation',
  );
}

/** A whole, non-negative number of seconds (the core's u64), else a TypeError. */
function seconds(name, value) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a whole, non-negative number of seconds, got ${describe(value)} ${String(value)}`);
  }
  return value;
}

function flag(name, value) {
  if (value == null) return false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${name} must be true or false, got ${describe(value)} ${String(value)}`);
  }
  return value;
}

function resolveNow(now) {
  if (now == null) return Math.floor(Date.now() / 1000);
  return seconds('now', typeof now === 'function' ? now() : now);
}

function bodyLimit(limit) {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !(limit >= 0)) throw new TypeError(`limit must be a number of bytes, got ${describe(limit)}`);
  return limit;
}

function tooLarge(size, limit) {
  return new WebhookVerificationError(
    'invalid_body',
    `the body is ${size} bytes, more than the limit of ${limit}: raise the \`limit\` option if ` +
      'deliveries this large are expected',
    { status: 413 },
  );
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed =
  typeof String.prototype.isWellFormed === 'function'
    ? (s) => s.isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);
const loneSurrogateAt = (s) => s.search(LONE_SURROGATE);

/** A Uint8Array view of bytes given as any binary type, else undefined. */
function asBytes(value) {
  if (value instanceof Uint8Array) {
    // A Buffer is a Uint8Array; the native addon wants exactly a Uint8Array, not a subclass
    // of another typed array.
    return value;
  }
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const tag = toString.call(value);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') return new Uint8Array(value);
  return undefined;
}

/**
 * A raw body as the backend takes it: `{ text }` (a string, which the backend encodes to
 * UTF-8) or `{ bytes }`; undefined for any other value, which is a parsed JSON body.
 */
function rawInput(body, what) {
  if (typeof body === 'string') {
    if (!isWellFormed(body)) {
      throw new WebhookVerificationError(
        'invalid_body',
        `the body string has a lone surrogate at index ${loneSurrogateAt(body)}, so it has no UTF-8 ` +
          'form and cannot be what was sent: pass the raw body bytes (a Buffer or Uint8Array)',
      );
    }
    return { text: body };
  }
  const bytes = asBytes(body);
  if (bytes !== undefined) return { bytes };
  if (body === undefined) {
    throw new WebhookVerificationError(
      'invalid_body',
      `${what}() was given no body (undefined): pass the raw body (string, Buffer, Uint8Array or ` +
        'ArrayBuffer) or the parsed JSON; in Express, req.body is undefined when no body parser ' +
        'ran: use expressMiddleware(), or express.raw({ type: "application/json" })',
    );
  }
  return undefined;
}

/** JSON.stringify, refusing what JSON cannot represent instead of changing it. */
function jsonText(value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    // BigInt, a cycle, nesting too deep for the stack, a throwing toJSON.
    throw new WebhookVerificationError(
      'invalid_body',
      `the value cannot be serialized as JSON (${e?.message ?? e}): a webhook body is a JSON ` +
        'value, as parsed from the request',
      { cause: e },
    );
  }
  if (text === undefined) {
    throw new WebhookVerificationError('invalid_body', `the value (${describe(value)}) has no JSON form`);
  }
  // JSON.stringify writes NaN and ±Infinity as null: look for them only when a null is
  // there, with a plain walk (a stringify replacer costs twice the stringify itself).
  if (text.includes('null')) {
    const found = nonFinite(value);
    if (found !== undefined) {
      throw new WebhookVerificationError(
        'invalid_body',
        `the value holds the number ${found.value}${found.key === '' ? '' : ` (at key ${JSON.stringify(found.key)})`}, ` +
          'which JSON cannot represent: a parsed webhook body never does',
      );
    }
  }
  return text;
}

/** The first NaN or ±Infinity in an acyclic value (JSON.stringify already ran): `{ key, value }`. */
function nonFinite(root) {
  const stack = ['', root];
  while (stack.length > 0) {
    const v = stack.pop();
    const key = stack.pop();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { key, value: v };
    } else if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) stack.push(String(i), v[i]);
      } else {
        for (const k of Object.keys(v)) stack.push(k, v[k]);
      }
    }
  }
  return undefined;
}

/** A parsed body whose canonical form does not match: say why and what to do. */
function parsedMismatch() {
  return (
    'the signature does not match the canonical (RFC 8785) form of the parsed body: the body ' +
    'was probably modified after it was parsed (a middleware changed, added or removed a field), ' +
    "or the secret is not this webhook's. Verify the raw request bytes instead: in Express, " +
    'mount expressMiddleware() before or instead of express.json(), or use ' +
    'express.raw({ type: "application/json" }); in a Next.js route handler, ' +
    'verifyRequest(request) or `await request.text()`'
  );
}

function decodeUtf8(bytes) {
  try {
    return utf8.decode(bytes);
  } catch (e) {
    throw new WebhookVerificationError(
      'invalid_utf8',
      'the delivery is signed correctly, but its body is not UTF-8 text, so it is not a JSON event',
      { cause: e },
    );
  }
}

function parseEvent(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WebhookVerificationError(
      'invalid_json',
      `the delivery is signed correctly, but its body is not JSON (${e.message})`,
      { cause: e },
    );
  }
}

/** A validly signed body is an event only when it is a JSON object (as in the Python SDK). */
function eventObject(value) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  throw new WebhookVerificationError(
    'invalid_envelope',
    `the signature is valid, but the body is ${kind}, not an event object ` +
      '{"created_at", "data", "id", "type"}; use verifySignature() to check other bodies',
  );
}

function tryParse(input) {
  try {
    return JSON.parse(input.text ?? utf8.decode(input.bytes));
  } catch {
    return undefined;
  }
}

/** One header value from a Fetch Headers, Node's IncomingHttpHeaders or a plain object. */
function headerValue(raw, name) {
  if (raw == null) return undefined;
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    // Several field lines of one header are one value, joined by commas (RFC 9110 §5.3),
    // as Node and fetch do for headers they know.
    if (raw.every((v) => typeof v === 'string')) return raw.length === 0 ? undefined : raw.join(', ');
  }
  throw new WebhookVerificationError(
    'invalid_header',
    `the ${name} header is ${describe(raw)}: a header value must be a string`,
  );
}

/** [X-Menon-Signature, X-Menon-Signature-V2], each a string or undefined when absent. */
function signatureHeaders(headers) {
  if (headers == null || typeof headers !== 'object') {
    throw new WebhookVerificationError(
      'invalid_header',
      `headers must be a Fetch Headers, Node's req.headers or a plain object, got ${describe(headers)}`,
    );
  }
  if (typeof headers.get === 'function' && !(headers instanceof Map)) {
    // Fetch Headers: case-insensitive lookups, repeated fields already joined.
    return [
      headerValue(headers.get(V1_HEADER), 'X-Menon-Signature'),
      headerValue(headers.get(V2_HEADER), 'X-Menon-Signature-V2'),
    ];
  }
  const entries = headers instanceof Map ? Object.fromEntries(headers) : headers;
  let v1 = entries[V1_HEADER];
  let v2 = entries[V2_HEADER];
  if (v1 === undefined || v2 === undefined) {
    // Not Node's lowercase names: one pass over the keys, in any case.
    for (const key in entries) {
      if (key.length !== V1_HEADER.length && key.length !== V2_HEADER.length) continue;
      const lower = key.toLowerCase();
      if (lower === V1_HEADER && v1 === undefined) v1 = entries[key];
      else if (lower === V2_HEADER && v2 === undefined) v2 = entries[key];
    }
  }
  return [headerValue(v1, 'X-Menon-Signature'), headerValue(v2, 'X-Menon-Signature-V2')];
}

/** [webhook-id, webhook-timestamp, webhook-signature], each a string ('' when absent). */
function standardHeaders(headers) {
  if (headers == null || typeof headers !== 'object') {
    throw new WebhookVerificationError(
      'invalid_header',
      `headers must be a Fetch Headers, Node's req.headers or a plain object, got ${describe(headers)}`,
    );
  }
  const names = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];
  if (typeof headers.get === 'function' && !(headers instanceof Map)) {
    return names.map((n) => headerValue(headers.get(n), n) ?? '');
  }
  const entries = headers instanceof Map ? Object.fromEntries(headers) : headers;
  const found = names.map((n) => entries[n]);
  for (const key in entries) {
    const at = names.indexOf(key.toLowerCase());
    if (at >= 0 && found[at] === undefined) found[at] = entries[key];
  }
  return found.map((v, i) => headerValue(v, names[i]) ?? '');
}

// ---------------------------------------------------------------------------------------
// Express (and plain node:http): where the raw body is.

/**
 * `{ read: true }` when this middleware must read the request stream, else
 * `{ body }`: what an earlier middleware left (raw bytes preferred over a parsed body).
 */
function bodySource(req) {
  const raw = req.rawBody;
  if (typeof raw === 'string' || asBytes(raw) !== undefined) return { body: raw };
  const body = req.body;
  // body-parser sets req._body once it has read the stream; Express 4 leaves req.body = {}
  // without reading when the content type did not match.
  const consumed = req._body === true || req.readableEnded === true;
  if (!consumed) return { read: true };
  if (body === undefined) {
    throw new WebhookVerificationError(
      'invalid_body',
      'the request body was already read by an earlier middleware, which kept neither the raw ' +
        'bytes nor a parsed body: mount expressMiddleware() before it',
    );
  }
  return { body };
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers?.['content-length']);
    if (declared > limit) {
      reject(tooLarge(declared, limit));
      return;
    }
    const chunks = [];
    let size = 0;
    const done = (err, value) => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      req.removeListener('close', onClose);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk) => {
      const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
      size += bytes.length;
      if (size > limit) {
        req.pause();
        done(tooLarge(size, limit));
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = () => done(undefined, concat(chunks, size));
    const onError = (e) =>
      done(new WebhookVerificationError('invalid_body', `reading the request body failed: ${e.message}`, { cause: e }));
    const onClose = () => {
      if (!req.readableEnded) done(new WebhookVerificationError('invalid_body', 'the client closed the request before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function concat(chunks, size) {
  if (chunks.length === 1) return chunks[0];
  // A Buffer where there is one (Node), so that req.rawBody is what express.raw() gives.
  if (typeof Buffer === 'function') return Buffer.concat(chunks, size);
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export { WebhookVerificationError };
