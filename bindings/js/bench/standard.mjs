// Standard Webhooks (issue 18): our StandardWebhook, on the native addon and on the
// WebAssembly build, beside npm `standardwebhooks` and node:crypto, in one process.
//
//   bindings/js/build.sh && node bindings/js/bench/standard.mjs [--quick] [--json FILE]
//   node bindings/js/bench/standard.mjs --merge FILE...   (the tables over runs saved with --json:
//                                                          median per figure, ratio ranges)
//
// Bodies of 256 B, 1 KiB, 16 KiB, 64 KiB and 256 KiB (a JSON event padded to size).
//
// v1 (HMAC-SHA256, whsec_ secret):
//   - ours: new StandardWebhook(secret).verify(payload, headers), native and wasm;
//   - npm standardwebhooks: new Webhook(secret).verify(payload, headers), as its README shows;
//   - the node:crypto idiom: the three headers read, the timestamp checked, createHmac over
//     `${id}.${ts}.${payload}`, base64, each `v1,` entry compared with timingSafeEqual.
//   Ours and the official Webhook both return the payload parsed (JSON.parse), so the idiom
//   is timed with JSON.parse too (the like-for-like floor); the official Webhook's
//   { jsonParse: false } and the idiom without parsing are printed for reference.
// v1a (Ed25519, whpk_ public key made from a node:crypto key pair):
//   - ours: new StandardWebhook(whpk).verify(payload, headers), native and wasm;
//   - node:crypto: the same header parsing and timestamp check, the `v1a,` entry
//     base64-decoded, crypto.verify(null, content, publicKey, sig) with a KeyObject made
//     once, then JSON.parse (like for like); verify() alone over prepared content too.
//
// Payloads are strings (as in the official README); the headers a plain object with
// lowercase names (Node's req.headers); the timestamp is now and every verifier reads the
// clock. Every verifier is checked to accept the message, and to refuse a tampered one,
// before it is timed. Each figure is the median of 15 samples (5 with --quick) of a
// calibrated loop, the cases interleaved sample by sample so that a noisy machine's drift
// hits all alike; ratios compare medians of the same run.
import {
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  timingSafeEqual,
  verify as edVerify,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Webhook as OfficialWebhook } from 'standardwebhooks';
import { createApi } from '../src/api.js';
import { loadNative, loadWasm } from '../src/node-backends.js';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const JSON_OUT = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const MERGE = args.includes('--merge') ? args.slice(args.indexOf('--merge') + 1) : [];
const SAMPLES = QUICK ? 5 : 15;
const SAMPLE_MS = QUICK ? 10 : 25;
const SIZES = [256, 1024, 16 * 1024, 64 * 1024, 256 * 1024];
const TOLERANCE = 300;

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_KEY = Buffer.from(SECRET.slice('whsec_'.length), 'base64');

/** The calls per sample that make one sample take about SAMPLE_MS. */
function calibrate(fn) {
  let n = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ns = Number(process.hrtime.bigint() - t);
    if (ns >= (SAMPLE_MS * 1e6) / 4) return Math.max(1, Math.round((n * SAMPLE_MS * 1e6) / ns));
    n *= 2;
  }
}

/** Median ns per call of each case, sampled in turn. */
function measure(cases) {
  const names = Object.keys(cases);
  const counts = Object.fromEntries(names.map((k) => [k, calibrate(cases[k])]));
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const k of names) {
      const fn = cases[k];
      const n = counts[k];
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      samples[k].push(Number(process.hrtime.bigint() - t) / n);
    }
  }
  return Object.fromEntries(names.map((k) => [k, samples[k].sort((a, b) => a - b)[SAMPLES >> 1]]));
}

/** A JSON event of exactly `len` bytes. */
function payloadOf(len) {
  const head = '{"data":{"note":"';
  const tail = '"},"id":"evt_bench","type":"user.created"}';
  return head + 'x'.repeat(len - head.length - tail.length) + tail;
}

const fmt = (ns) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
const label = (len) => (len >= 1024 ? `${len / 1024} KiB` : `${len} B`);

function mustAccept(fn, what) {
  let out;
  try {
    out = fn();
  } catch (e) {
    throw new Error(`${what} refused a good message (${e.message}): the bench would time a failure path`);
  }
  if (out === false) throw new Error(`${what} refused a good message: the bench would time a failure path`);
}
function mustRefuse(fn, what) {
  let out;
  try {
    out = fn();
  } catch {
    return;
  }
  if (out !== false) throw new Error(`${what} accepted a tampered message`);
}

/** webhook-id, webhook-timestamp, webhook-signature of Node's req.headers, checked as the idiom does. */
function idiomHeaders(headers) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const signature = headers['webhook-signature'];
  if (!id || !ts || !signature) return undefined;
  const t = Number.parseInt(ts, 10);
  const now = Math.floor(Date.now() / 1000);
  if (Number.isNaN(t) || Math.abs(now - t) > TOLERANCE) return undefined;
  return [id, ts, signature];
}

/** The hand-written v1 receiver with node:crypto. */
function hmacIdiom(key, payload, headers) {
  const h = idiomHeaders(headers);
  if (h === undefined) return false;
  const [id, ts, signature] = h;
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${ts}.${payload}`).digest('base64'));
  for (const entry of signature.split(' ')) {
    if (!entry.startsWith('v1,')) continue;
    const given = Buffer.from(entry.slice(3));
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}

/** The hand-written v1a receiver with node:crypto's Ed25519. */
function ed25519Idiom(publicKey, payload, headers) {
  const h = idiomHeaders(headers);
  if (h === undefined) return false;
  const [id, ts, signature] = h;
  const content = Buffer.from(`${id}.${ts}.${payload}`);
  for (const entry of signature.split(' ')) {
    if (!entry.startsWith('v1a,')) continue;
    const sig = Buffer.from(entry.slice(4), 'base64');
    if (sig.length === 64 && edVerify(null, content, publicKey, sig)) return true;
  }
  return false;
}

const headersOf = (id, t, signature) => ({
  'webhook-id': id,
  'webhook-timestamp': String(t),
  'webhook-signature': signature,
});
const tamper = (h) => ({ ...h, 'webhook-id': `${h['webhook-id']}x` });

/** One run: the medians of every case at every size, in ns. */
function run() {
  const native = createApi(loadNative(), 'native');
  const wasm = createApi(loadWasm(), 'wasm');
  const pair = generateKeyPairSync('ed25519');
  const rawPublic = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x, 'base64url');
  const WHPK = `whpk_${rawPublic.toString('base64')}`;
  const publicKey = createPublicKey(pair.publicKey.export({ format: 'pem', type: 'spki' }));

  const v1Rows = [];
  const v1aRows = [];
  for (const len of SIZES) {
    const payload = payloadOf(len);
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const now = new Date();
    const t = Math.floor(now.getTime() / 1000);
    const content = Buffer.from(`${id}.${t}.${payload}`);

    // ---- v1 ----
    const official = new OfficialWebhook(SECRET);
    const oursN = new native.StandardWebhook(SECRET);
    const oursW = new wasm.StandardWebhook(SECRET);
    const signed = official.sign(id, now, payload);
    if (oursN.sign(id, now, payload) !== signed || oursW.sign(id, now, payload) !== signed) {
      throw new Error('v1 signatures differ between ours and the official library');
    }
    const h1 = headersOf(id, t, signed);
    const v1 = {
      'ours, native': () => oursN.verify(payload, h1),
      'ours, wasm': () => oursW.verify(payload, h1),
      standardwebhooks: () => official.verify(payload, h1),
      'node:crypto idiom + JSON.parse': () => hmacIdiom(SECRET_KEY, payload, h1) && JSON.parse(payload),
      'standardwebhooks, jsonParse: false': () => official.verify(payload, h1, { jsonParse: false }) === undefined,
      'node:crypto idiom, no parse': () => hmacIdiom(SECRET_KEY, payload, h1),
    };
    const bad1 = tamper(h1);
    for (const [name, fn] of Object.entries(v1)) mustAccept(fn, `v1 ${name} at ${label(len)}`);
    mustRefuse(() => oursN.verify(payload, bad1), 'v1 ours, native');
    mustRefuse(() => oursW.verify(payload, bad1), 'v1 ours, wasm');
    mustRefuse(() => official.verify(payload, bad1), 'v1 standardwebhooks');
    mustRefuse(() => hmacIdiom(SECRET_KEY, payload, bad1), 'v1 idiom');
    v1Rows.push({ len, t: measure(v1) });

    // ---- v1a ----
    const sig = `v1a,${edSign(null, content, pair.privateKey).toString('base64')}`;
    const edN = new native.StandardWebhook(WHPK);
    const edW = new wasm.StandardWebhook(WHPK);
    const h2 = headersOf(id, t, sig);
    const sigBytes = Buffer.from(sig.slice(4), 'base64');
    const v1a = {
      'ours, native': () => edN.verify(payload, h2),
      'ours, wasm': () => edW.verify(payload, h2),
      'node:crypto idiom + JSON.parse': () => ed25519Idiom(publicKey, payload, h2) && JSON.parse(payload),
      'node:crypto idiom, no parse': () => ed25519Idiom(publicKey, payload, h2),
      'node:crypto verify() alone': () => edVerify(null, content, publicKey, sigBytes),
    };
    const bad2 = tamper(h2);
    for (const [name, fn] of Object.entries(v1a)) mustAccept(fn, `v1a ${name} at ${label(len)}`);
    mustRefuse(() => edN.verify(payload, bad2), 'v1a ours, native');
    mustRefuse(() => edW.verify(payload, bad2), 'v1a ours, wasm');
    mustRefuse(() => ed25519Idiom(publicKey, payload, bad2), 'v1a idiom');
    v1aRows.push({ len, t: measure(v1a) });
  }
  return { v1: v1Rows, v1a: v1aRows };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** The median over runs of each case's figure, per size. */
function merged(runs, part) {
  return runs[0][part].map((row, i) => ({
    len: row.len,
    t: Object.fromEntries(Object.keys(row.t).map((k) => [k, median(runs.map((r) => r[part][i].t[k]))])),
  }));
}

function table(title, runs, part) {
  const rows = merged(runs, part);
  console.log(`\n${title}\n`);
  console.log(`| verifier | ${rows.map((r) => label(r.len)).join(' | ')} |`);
  console.log(`|---|${rows.map(() => '---:').join('|')}|`);
  for (const name of Object.keys(rows[0].t)) {
    console.log(`| ${name} | ${rows.map((r) => fmt(r.t[name])).join(' | ')} |`);
  }
}

/** a / b per run; the median over runs, and with several runs their range. */
function ratios(runs, part, list) {
  const sizes = runs[0][part].map((r) => r.len);
  console.log(`\n| ratio | ${sizes.map(label).join(' | ')} | target |`);
  console.log(`|---|${sizes.map(() => '---:').join('|')}|---|`);
  for (const [a, b, target] of list) {
    const cells = sizes.map((_, i) => {
      const per = runs.map((r) => r[part][i].t[a] / r[part][i].t[b]);
      const range = per.length > 1 ? ` (${Math.min(...per).toFixed(2)}-${Math.max(...per).toFixed(2)})` : '';
      return `${median(per).toFixed(2)}x${range}`;
    });
    console.log(`| ${a} / ${b} | ${cells.join(' | ')} | ${target} |`);
  }
}

let runs;
if (MERGE.length > 0) {
  runs = MERGE.map((file) => JSON.parse(readFileSync(file, 'utf8')));
  console.log(`median of ${runs.length} runs (${MERGE.join(', ')}); ratio ranges over the runs`);
} else {
  runs = [run()];
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(runs[0]));
}

table('### v1 verify (median per call; every row returns the parsed payload unless it says "no parse")', runs, 'v1');
console.log('\nv1 ratios: their time / ours (above 1: we are faster)');
ratios(runs, 'v1', [
  ['standardwebhooks', 'ours, native', '≥ 2x'],
  ['standardwebhooks', 'ours, wasm', ''],
  ['node:crypto idiom + JSON.parse', 'ours, native', '(floor)'],
  ['node:crypto idiom + JSON.parse', 'ours, wasm', ''],
  ['standardwebhooks, jsonParse: false', 'ours, native', '(theirs not parsing)'],
]);
table('### v1a verify (median per call)', runs, 'v1a');
console.log('\nv1a ratios: our time / node:crypto idiom + JSON.parse (at most 1.2x is the target)');
ratios(runs, 'v1a', [
  ['ours, native', 'node:crypto idiom + JSON.parse', '≤ 1.2x'],
  ['ours, wasm', 'node:crypto idiom + JSON.parse', ''],
  ['ours, native', 'node:crypto verify() alone', ''],
]);
const swVersion = JSON.parse(
  readFileSync(new URL('../node_modules/standardwebhooks/package.json', import.meta.url), 'utf8'),
).version;
const samples = MERGE.length > 0 ? '' : `; ${SAMPLES} samples${QUICK ? ' (quick)' : ''}`;
console.log(
  `\nnode ${process.version}, ${process.arch}, OpenSSL ${process.versions.openssl}; ` +
    `standardwebhooks ${swVersion}${samples}`,
);
