// @menon/webhooks for Cloudflare Workers and Vercel/Next.js Edge: these forbid compiling
// WebAssembly from bytes, so the .wasm file is imported as a compiled WebAssembly.Module
// (the `?module` import both wrangler and Next.js understand) and instantiated
// synchronously.
import { createApi } from './api.js';
import * as wasm from '../dist/wasm/menon_webhooks_wasm.js';
import wasmModule from '../dist/wasm/menon_webhooks_wasm_bg.wasm?module';

wasm.initSync({ module: wasmModule });

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
