// @menon/webhooks for Node.js (and Bun): the native addon when one is built for this
// platform, else the WebAssembly build, read from disk and compiled synchronously.
//
//   MENON_WEBHOOKS_BACKEND=native   the native addon or an error (no fallback)
//   MENON_WEBHOOKS_BACKEND=wasm     always WebAssembly
//   unset (or auto)                 native when it loads, else WebAssembly
import { createApi } from './api.js';
import { selectBackend } from './node-backends.js';

export const {
  backend,
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
} = createApi(...selectBackend());
