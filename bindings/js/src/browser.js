// @menon/webhooks for browsers, Deno and any runtime without a better entry: the
// WebAssembly build embedded in JavaScript and compiled synchronously at import (about
// 100 KB, far under Chrome's 8 MB limit for synchronous compilation on the main thread).
import { createApi } from './api.js';
import * as wasm from '../dist/wasm/menon_webhooks_wasm.js';
import { wasmBytes } from '../dist/wasm/inline.js';

wasm.initSync({ module: wasmBytes() });

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
} = createApi(wasm, 'wasm');
