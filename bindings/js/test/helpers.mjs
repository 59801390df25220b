// Shared by the tests: the API over each backend in one process, the shared vectors and
// fixture events, and a loopback HTTP server.
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createApi } from '../src/api.js';
import { loadNative, loadWasm } from '../src/node-backends.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const PACKAGE = join(HERE, '..');
export const FIXTURES = join(HERE, '..', '..', '..', 'fixtures');

/** [{ name, api, raw }] for the native addon and the WebAssembly build, both required. */
export const BACKENDS = [
  { name: 'native', raw: loadNative() },
  { name: 'wasm', raw: loadWasm() },
].map((b) => ({ ...b, api: createApi(b.raw, b.name) }));

export const SIG = JSON.parse(readFileSync(join(FIXTURES, 'vectors', 'signatures.json'), 'utf8'));
export const CANON = JSON.parse(readFileSync(join(FIXTURES, 'vectors', 'canonicalize.json'), 'utf8'));

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The bytes of a vector's body ('body', 'body_hex' or 'body_generate'). */
export function bodyOf(v) {
  if ('body' in v) return Buffer.from(v.body, 'utf8');
  if ('body_hex' in v) return Buffer.from(v.body_hex, 'hex');
  const { seed, length } = v.body_generate;
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = ALPHABET.charCodeAt((seed + i * 31) % 64);
  return b;
}

/** A vector as a failure message: the whole vector, long bodies cut. */
export function show(v) {
  return JSON.stringify(v, (k, x) => (typeof x === 'string' && x.length > 300 ? `${x.slice(0, 300)}…(${x.length} chars)` : x));
}

/** fixtures/events/*.json: [{ file, text }] (canonical JSON, no trailing newline). */
export function fixtureEvents() {
  const dir = join(FIXTURES, 'events');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
}

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const OLD_SECRET = 'whsec_zT3tsfIvh4bgVHjm0RZkXF2BtpIguvhLwYz99r1QazA';

/** Serves `handler` on 127.0.0.1, port 0; returns { url, close }. */
export async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** POSTs and returns { status, json }. */
export async function post(url, body, headers) {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
