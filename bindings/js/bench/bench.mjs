// Side-by-side benchmark, one process: our native addon and our WebAssembly build beside
// the verifiers people use today, and our canonicalize beside npm `canonicalize`.
//
//   node bench/bench.mjs            (after ./build.sh; about a minute)
//
// Each figure is the median of 15 samples of a calibrated loop (ns per call); ratios
// compare medians taken in the same run. Machines here are noisy: read the ratios.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import npmCanonicalize from 'canonicalize';
import { createApi } from '../src/api.js';
import { loadNative, loadWasm } from '../src/node-backends.js';

const native = createApi(loadNative(), 'native');
const wasm = createApi(loadWasm(), 'wasm');
const SECRET = 'whsec_YmVuY2htYXJrLXNlY3JldC0zMi1ieXRlcy1sb25n';
const SAMPLES = 15;

/**
 * Median ns per call: `loop(n)` runs the call n times and returns the elapsed ns. The
 * count is calibrated so each of the 15 samples takes about `ms` milliseconds.
 */
async function median(loop, ms = 25) {
  let n = 1;
  while ((await loop(n)) < (ms * 1e6) / 4) n *= 2;
  n *= 4;
  const samples = [];
  for (let s = 0; s < SAMPLES; s++) samples.push((await loop(n)) / n);
  return samples.sort((a, b) => a - b)[SAMPLES >> 1];
}

/** A synchronous call: the loop itself stays synchronous, so no await is timed. */
const measure = (fn) =>
  median((n) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t);
  });

/** A call that returns a promise, awaited each time, as its users must. */
const measureAsync = (fn) =>
  median(async (n) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    return Number(process.hrtime.bigint() - t);
  });

/** A JSON event of exactly `len` bytes (standardwebhooks parses what it verifies). */
function body(len) {
  const head = '{"data":{"note":"';
  const tail = '"},"id":"evt_bench","type":"listing.created"}';
  return Buffer.from(head + 'x'.repeat(len - head.length - tail.length) + tail);
}

const fmt = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const rows = [];
const assertTrue = (ok, what) => {
  if (!ok) throw new Error(`${what} did not verify: the benchmark would measure a failure path`);
};

for (const len of [256, 1024, 16 * 1024]) {
  const raw = body(len);
  const text = raw.toString('utf8');
  const header = native.sign(raw, SECRET)['X-Menon-Signature'];
  const key = new TextEncoder().encode(SECRET);
  const headerBuf = Buffer.from(header);

  const nodeIdiom = () => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`);
    return expected.length === headerBuf.length && timingSafeEqual(expected, headerBuf);
  };
  const noble = () => {
    const expected = `sha256=${bytesToHex(hmac(sha256, key, raw))}`;
    let diff = expected.length ^ header.length;
    for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ header.charCodeAt(i);
    return diff === 0;
  };
  const swSecret = `whsec_${Buffer.from(SECRET).toString('base64')}`;
  const sw = new StandardWebhook(swSecret);
  const swHeaders = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) };
  swHeaders['webhook-signature'] = sw.sign('msg_1', new Date(Number(swHeaders['webhook-timestamp']) * 1000), text);
  const standard = () => sw.verify(text, swHeaders);
  const ours = (api) => () => api.verifySignature(raw, header, SECRET);

  assertTrue(nodeIdiom() && noble() && standard() && ours(native)() && ours(wasm)(), `a verifier at ${len} B`);
  assertTrue(await octokitVerify(SECRET, text, header), `octokit at ${len} B`);

  const t = {
    'node:crypto idiom': await measure(nodeIdiom),
    '@octokit/webhooks-methods': await measureAsync(() => octokitVerify(SECRET, text, header)),
    '@noble/hashes': await measure(noble),
    standardwebhooks: await measure(standard),
    'ours, native': await measure(ours(native)),
    'ours, wasm': await measure(ours(wasm)),
  };
  rows.push({ len, t });
}

console.log('\nverify (v1 `sha256=` header over a Buffer body; ns per call, median of 15 samples)\n');
const names = Object.keys(rows[0].t);
console.log(`| verifier | ${rows.map((r) => `${r.len} B`).join(' | ')} |`);
console.log(`|---|${rows.map(() => '---:').join('|')}|`);
for (const name of names) console.log(`| ${name} | ${rows.map((r) => fmt(r.t[name])).join(' | ')} |`);
console.log('\nratios (higher is better for us: the peer\'s time / ours)\n');
console.log(`| comparison | ${rows.map((r) => `${r.len} B`).join(' | ')} | target |`);
console.log(`|---|${rows.map(() => '---:').join('|')}|---|`);
const ratio = (a, b, target) =>
  console.log(`| ${a} / ${b} | ${rows.map((r) => `${(r.t[a] / r.t[b]).toFixed(2)}x`).join(' | ')} | ${target} |`);
ratio('node:crypto idiom', 'ours, native', '≥ 2x at 1 KiB, ≥ 1x at 16 KiB');
ratio('@octokit/webhooks-methods', 'ours, native', '');
ratio('standardwebhooks', 'ours, native', '');
ratio('@noble/hashes', 'ours, wasm', '≥ 2x at 1 KiB, ≥ 1.5x at 16 KiB');
ratio('node:crypto idiom', 'ours, wasm', '');

// ---------------------------------------------------------------- canonicalize ---
function event(target) {
  const items = [];
  for (let i = 0; ; i++) {
    items.push({ title: `Scania R${400 + i} Highline é Müller`, price: 45000 + i * 17.5, mileage_km: (120 + i) * 1000,
      location: { city: 'Łódź', country: 'PL' }, features: ['retarder', 'ADR', true, null], id: `lst_${i}` });
    const value = { type: 'listing.created', id: 'evt_bench', data: { items }, created_at: '2024-01-15T10:30:00Z' };
    if (JSON.stringify(value).length >= target) return value;
  }
}
console.log('\ncanonicalize (an already-parsed event object, as behind express.json(); ns per call)\n');
console.log('| input | npm canonicalize | ours, native | ratio | ours, wasm | ratio |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [label, size] of [['1 KiB', 1024], ['16 KiB', 16 * 1024]]) {
  const value = event(size);
  const expected = npmCanonicalize(value);
  if (native.canonicalize(value) !== expected || wasm.canonicalize(value) !== expected) {
    throw new Error(`canonicalize outputs differ at ${label}`);
  }
  const peer = await measure(() => npmCanonicalize(value));
  const n = await measure(() => native.canonicalize(value));
  const w = await measure(() => wasm.canonicalize(value));
  console.log(`| ${label} | ${fmt(peer)} | ${fmt(n)} | ${(peer / n).toFixed(2)}x | ${fmt(w)} | ${(peer / w).toFixed(2)}x |`);
}

const wasmDir = new URL('../dist/wasm/', import.meta.url).pathname;
const wasmFile = readdirSync(wasmDir).find((f) => f.endsWith('.wasm'));
const bytes = readFileSync(join(wasmDir, wasmFile));
console.log(`\n${wasmFile}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped (target ≤ 60 KB = 61440)`);
console.log(`node ${process.version}, ${process.arch}`);
