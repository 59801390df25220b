// Runs in the browser: the package's `browser` entry (WebAssembly, compiled synchronously
// at import) against every vector of fixtures/vectors, through the public API and the
// low-level surface. Publishes the outcome as `window.menonResult` and on the page.
import * as api from '/bindings/js/src/browser.js';
import * as raw from '/bindings/js/dist/wasm/menon_webhooks_wasm.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const utf8 = new TextEncoder();

function bodyOf(v) {
  if (typeof v.body === 'string') return utf8.encode(v.body);
  if (typeof v.body_hex === 'string') return hex(v.body_hex);
  const { seed, length } = v.body_generate;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ALPHABET.charCodeAt((seed + i * 31) % 64);
  return out;
}

function outcome(fn) {
  try {
    return { value: fn() };
  } catch (e) {
    return { error: e.code ?? `threw without a code: ${e}` };
  }
}

async function run() {
  const [sig, canon] = await Promise.all(
    ['signatures', 'canonicalize'].map((f) => fetch(`/fixtures/vectors/${f}.json`).then((r) => r.json())),
  );
  const failures = [];
  const counts = { sign: 0, verify: 0, deliveries: 0, canonicalize: 0 };
  const check = (ok, what, v) => ok || failures.push(`${what}: ${JSON.stringify(v).slice(0, 300)}`);

  for (const v of sig.sign) {
    const body = bodyOf(v);
    const headers = api.sign(body, v.secrets, { timestamp: v.timestamp });
    check(headers['X-Menon-Signature'] === v.v1, 'sign v1', v);
    check(headers['X-Menon-Signature-V2'] === v.v2, 'sign v2', v);
    counts.sign++;
  }
  for (const v of sig.verify) {
    const body = bodyOf(v);
    const [v1, v2] = v.scheme === 'v1' ? [v.header, undefined] : [undefined, v.header];
    const got = outcome(() => new raw.Verifier(v.secrets).verifyDelivery(body, v1, v2, v.now ?? 0, v.tolerance ?? 300));
    if (v.valid) {
      check(got.error === undefined && got.value === (v.scheme === 'v2' ? v.secret_index : 0), `verify (valid, got ${JSON.stringify(got)})`, v);
    } else {
      check(got.error === v.error, `verify (expected ${v.error}, got ${JSON.stringify(got)})`, v);
    }
    if (v.scheme === 'v1' && v.secrets.length === 1) {
      check(api.verifySignature(body, v.header, v.secrets[0]) === v.valid, 'verifySignature', v);
    }
    counts.verify++;
  }
  for (const v of sig.deliveries) {
    const options = { now: v.now, tolerance: v.tolerance ?? 300, ...(v.require_v2 ? { requireV2: true } : {}) };
    const got = outcome(() => (api.verify(bodyOf(v), v.headers, v.secrets, options), v.secret_index));
    if (v.valid) check(got.value === v.secret_index, `delivery (valid, got ${JSON.stringify(got)})`, v);
    else check(got.error === v.error, `delivery (expected ${v.error}, got ${JSON.stringify(got)})`, v);
    counts.deliveries++;
  }
  for (const v of canon.cases) {
    const got = typeof v.input === 'string'
      ? outcome(() => api.canonicalize(v.input))
      : outcome(() => raw.canonicalizeBytes(hex(v.input_hex)));
    if ('output' in v) check(got.value === v.output, `canonicalize (got ${JSON.stringify(got)})`, v);
    else check(got.error === v.error, `canonicalize refusal (got ${JSON.stringify(got)})`, v);
    counts.canonicalize++;
  }
  return { backend: api.backend, counts, failures, userAgent: navigator.userAgent };
}

run().then(
  (result) => {
    window.menonResult = result;
    document.getElementById('status').textContent =
      `${result.backend}: ${result.counts.sign} sign, ${result.counts.verify} verify, ` +
      `${result.counts.deliveries} delivery, ` +
      `${result.counts.canonicalize} canonicalize vectors; ${result.failures.length} failures`;
    document.getElementById('failures').textContent = result.failures.join('\n');
  },
  (error) => {
    window.menonResult = { error: String(error && error.stack || error) };
    document.getElementById('status').textContent = `error: ${error}`;
  },
);
