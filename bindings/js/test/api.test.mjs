// The public API's argument conversion and error mapping, through both backends: every
// body and header shape it takes, every bad input it refuses (with which code), options,
// and a seeded differential run showing that the native and WebAssembly builds agree on
// thousands of mangled inputs and never crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { BACKENDS, SECRET, OLD_SECRET, fixtureEvents } from './helpers.mjs';

const EVENT = fixtureEvents().find((e) => e.file === 'listing.created.json').text;
const PARSED = JSON.parse(EVENT);
const NOW = 1_741_076_142;

for (const { name, api } of BACKENDS) {
  const { verify, sign, verifySignature, canonicalize, Webhook, WebhookVerificationError } = api;
  const signed = sign(EVENT, SECRET, { timestamp: NOW });
  const at = { now: NOW };
  const code = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof WebhookVerificationError, `not a WebhookVerificationError: ${e?.stack ?? e}`);
      return e.code;
    }
    return 'ok';
  };

  test(`${name}: headers as Fetch Headers, Node's lowercase object, any case, a Map, arrays`, () => {
    const v1 = signed['X-Menon-Signature'];
    const v2 = signed['X-Menon-Signature-V2'];
    const shapes = [
      signed,
      new Headers(signed),
      { 'x-menon-signature': v1, 'x-menon-signature-v2': v2, 'content-type': 'application/json' },
      { 'X-MENON-SIGNATURE-V2': v2 },
      { 'x-Menon-Signature': v1 },
      new Map([['x-menon-signature-v2', v2]]),
      { 'x-menon-signature-v2': [v2] },
      { 'x-menon-signature': v1, 'x-menon-signature-v2': undefined },
      { 'x-menon-signature': v1, 'x-menon-signature-v2': null },
      { 'x-menon-signature': v1, 'x-menon-signature-v2': [] },
    ];
    for (const headers of shapes) assert.deepEqual(verify(EVENT, headers, SECRET, at), PARSED, JSON.stringify([...Object.entries(headers)]));
    assert.equal(code(() => verify(EVENT, { 'x-menon-signature': [v1, v1] }, SECRET, at)), 'malformed_signature');
    assert.equal(code(() => verify(EVENT, { 'x-menon-signature': 42 }, SECRET, at)), 'invalid_header');
    assert.equal(code(() => verify(EVENT, { 'x-menon-signature-v2': { t: 1 } }, SECRET, at)), 'invalid_header');
    for (const bad of [null, undefined, 'x-menon-signature: sha256=00', 7]) {
      assert.equal(code(() => verify(EVENT, bad, SECRET, at)), 'invalid_header', String(bad));
    }
    assert.equal(code(() => verify(EVENT, {}, SECRET, at)), 'missing_signature');
    // A blank v2 header counts as absent (the core's rule), so v1 decides.
    assert.deepEqual(verify(EVENT, { 'x-menon-signature': v1, 'x-menon-signature-v2': ' \t' }, SECRET, at), PARSED);
  });

  test(`${name}: bodies as string, Buffer, views with an offset, ArrayBuffer, parsed JSON`, () => {
    const bytes = Buffer.from(EVENT, 'utf8');
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 7);
    const view = padded.subarray(7, 7 + bytes.length);
    const bodies = [
      EVENT,
      bytes,
      new Uint8Array(bytes),
      view,
      new DataView(padded.buffer, 7, bytes.length),
      new Int8Array(padded.buffer, 7, bytes.length),
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
      PARSED,
      structuredClone(PARSED),
    ];
    for (const body of bodies) assert.deepEqual(verify(body, signed, SECRET, at), PARSED, Object.prototype.toString.call(body));
    // The view's neighbours are not part of the body.
    assert.equal(code(() => verify(padded, signed, SECRET, at)), 'signature_mismatch');
    // Key order of a parsed body does not matter: its canonical form is what was signed.
    const reordered = Object.fromEntries(Object.entries(PARSED).reverse());
    assert.deepEqual(verify(reordered, signed, SECRET, at), reordered);
  });

  test(`${name}: values with no JSON or byte form are invalid_body, never a crash`, () => {
    const cyclic = { ...PARSED };
    cyclic.self = cyclic;
    const bad = [
      undefined,
      { ...PARSED, n: 10n },
      cyclic,
      { ...PARSED, data: { price: NaN } },
      [1, Infinity],
      -Infinity,
      () => 1,
      Symbol('x'),
      '{"a":"\uD800"}',
      { toJSON() { throw new Error('nope'); } },
    ];
    for (const body of bad) {
      assert.equal(code(() => verify(body, signed, SECRET, at)), 'invalid_body', String(typeof body === 'symbol' ? 'symbol' : body));
      assert.equal(verifySignature(body, signed['X-Menon-Signature'], SECRET), false);
    }
    // The core's canonicalize refusals keep their codes for a parsed body.
    let deep = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    assert.equal(code(() => verify(deep, signed, SECRET, at)), 'too_deep');
    assert.equal(code(() => verify({ s: '\uDC00' }, signed, SECRET, at)), 'lone_surrogate');
    // A signed body that is not JSON: the signature holds, the event does not.
    const text = 'not json';
    assert.equal(code(() => verify(text, sign(text, SECRET), SECRET)), 'invalid_json');
    // Signed JSON that is not an event object: refused as the Python SDK refuses it.
    for (const json of ['[]', '"evt"', '42', 'null', '[{"id":"evt_1"}]']) {
      const err = (() => {
        try {
          verify(json, sign(json, SECRET), SECRET);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.equal(err?.code, 'invalid_envelope', json);
      assert.equal(err?.status, 400, json);
    }
    assert.equal(code(() => verify([1], sign('[1]', SECRET), SECRET)), 'invalid_envelope');
    const latin1 = Buffer.from([0x7b, 0xe9, 0x7d]);
    assert.equal(code(() => verify(latin1, sign(latin1, SECRET), SECRET)), 'invalid_utf8');
  });

  test(`${name}: secrets: missing or empty is no_secret, a rotation accepts either`, () => {
    for (const s of [undefined, null, '', [], [''], [SECRET, ''], [SECRET, undefined], 42, {}, [SECRET, 42]]) {
      assert.equal(code(() => verify(EVENT, signed, s, at)), 'no_secret', JSON.stringify(s));
      assert.equal(code(() => new Webhook(s)), 'no_secret', JSON.stringify(s));
      assert.equal(verifySignature(EVENT, signed['X-Menon-Signature'], s), false);
    }
    const e = (() => {
      try {
        new Webhook(undefined);
      } catch (err) {
        return err;
      }
    })();
    assert.equal(e.status, 500);
    assert.match(e.message, /environment variable/);
    const rotated = sign(EVENT, [SECRET, OLD_SECRET], { timestamp: NOW });
    assert.match(rotated['X-Menon-Signature-V2'], /^t=\d+,v2=[0-9a-f]{64},v2=[0-9a-f]{64}$/);
    assert.deepEqual(verify(EVENT, rotated, OLD_SECRET, at), PARSED);
    assert.deepEqual(verify(EVENT, sign(EVENT, OLD_SECRET, { timestamp: NOW }), [SECRET, OLD_SECRET], at), PARSED);
    // One-shot calls switch between secrets correctly (they cache the last one keyed).
    for (const s of [SECRET, OLD_SECRET, SECRET, [SECRET], [OLD_SECRET, SECRET]]) {
      const h = sign(EVENT, s, { timestamp: NOW });
      assert.deepEqual(verify(EVENT, h, s, at), PARSED);
      assert.equal(code(() => verify(EVENT, h, s === SECRET ? OLD_SECRET : 'whsec_other', at)), 'signature_mismatch');
    }
  });

  test(`${name}: now, tolerance and timestamp options`, () => {
    const wh = new Webhook(SECRET, { tolerance: 10, now: () => NOW + 10 });
    assert.deepEqual(wh.verify(EVENT, signed), PARSED);
    assert.equal(code(() => wh.verify(EVENT, signed, { now: NOW + 11 })), 'timestamp_too_old');
    assert.deepEqual(wh.verify(EVENT, signed, { now: NOW + 11, tolerance: 11 }), PARSED);
    assert.equal(code(() => verify(EVENT, signed, SECRET, { now: NOW - 301 })), 'timestamp_in_future');
    assert.deepEqual(verify(EVENT, signed, SECRET, { now: NOW + 300 }), PARSED);
    assert.equal(code(() => verify(EVENT, signed, SECRET, { now: NOW + 301 })), 'timestamp_too_old');
    // The default clock is the real one.
    assert.deepEqual(verify(EVENT, sign(EVENT, SECRET), SECRET), PARSED);
    assert.equal(code(() => verify(EVENT, signed, SECRET)), 'timestamp_too_old');
    for (const bad of [-1, 1.5, NaN, Infinity, '1741076142', 2 ** 53, {}]) {
      assert.throws(() => verify(EVENT, signed, SECRET, { now: bad }), TypeError, String(bad));
      assert.throws(() => verify(EVENT, signed, SECRET, { now: NOW, tolerance: bad }), TypeError, String(bad));
      assert.throws(() => sign(EVENT, SECRET, { timestamp: bad }), TypeError, String(bad));
    }
  });

  test(`${name}: sign() returns what a sender sends`, () => {
    const h = sign(PARSED, SECRET, { timestamp: NOW, deliveryId: 'log_1' });
    assert.deepEqual(Object.keys(h).sort(), [
      'Content-Type', 'X-Menon-Delivery', 'X-Menon-Event', 'X-Menon-Event-Id', 'X-Menon-Signature', 'X-Menon-Signature-V2', 'X-Menon-Timestamp',
    ]);
    assert.equal(h['X-Menon-Event'], 'listing.created');
    assert.equal(h['X-Menon-Event-Id'], PARSED.id);
    assert.equal(h['X-Menon-Timestamp'], String(NOW));
    assert.equal(h['X-Menon-Signature'], signed['X-Menon-Signature'], 'an object is signed in its canonical form');
    assert.deepEqual(sign(EVENT, SECRET, { timestamp: NOW }), { ...signed });
    const other = sign('[]', SECRET, { eventType: 'user.created', eventId: 'evt_x' });
    assert.equal(other['X-Menon-Event'], 'user.created');
    assert.equal(other['X-Menon-Event-Id'], 'evt_x');
    assert.equal('X-Menon-Event' in sign('[]', SECRET), false);
    // A test delivery: the same headers plus `X-Menon-Test: true`, last; the body untouched.
    const test = sign(PARSED, SECRET, { timestamp: NOW, deliveryId: 'log_1', test: true });
    assert.deepEqual(Object.keys(test), [...Object.keys(h), 'X-Menon-Test']);
    assert.equal(test['X-Menon-Test'], 'true');
    assert.equal(test['X-Menon-Signature'], h['X-Menon-Signature']);
    assert.equal('X-Menon-Test' in h, false);
    assert.equal('X-Menon-Test' in sign(PARSED, SECRET, { test: false }), false);
  });

  test(`${name}: unknown event types and test events verify like any other`, () => {
    for (const event of [{ ...PARSED, type: 'listing.teleported' }, { ...PARSED, test: true }]) {
      const text = JSON.stringify(event);
      assert.deepEqual(verify(text, sign(text, SECRET), SECRET), event);
    }
  });

  test(`${name}: verifySignature is the docs' boolean check and never throws`, () => {
    const v1 = signed['X-Menon-Signature'];
    assert.equal(verifySignature(EVENT, v1, SECRET), true);
    assert.equal(verifySignature(Buffer.from(EVENT), v1, SECRET), true);
    assert.equal(verifySignature(PARSED, v1, SECRET), true);
    assert.equal(verifySignature(EVENT, ` ${v1.toUpperCase().replace('SHA256', 'sha256')}\t`, SECRET), true);
    const junk = [undefined, null, 0, -1, NaN, 10n, {}, [], [1], 'x', '', Symbol('s'), () => 1, new Map(), '\uD800'];
    for (const a of [...junk, EVENT]) {
      for (const b of [...junk, v1, signed['X-Menon-Signature-V2']]) {
        for (const c of [...junk, SECRET]) {
          const expected = a === EVENT && b === v1 && c === SECRET;
          assert.equal(verifySignature(a, b, c), expected);
        }
      }
    }
  });

  test(`${name}: canonicalize takes a value, JSON text or JSON bytes`, () => {
    assert.equal(canonicalize({ b: [1e21, 0.1, -0], a: '\u00e9\u2028' }), '{"a":"é\u2028","b":[1e+21,0.1,0]}');
    assert.equal(canonicalize('{ "b": 1e21, "a": "\\u00e9" }'), '{"a":"é","b":1e+21}');
    assert.equal(canonicalize(Buffer.from('[1.0, true]')), '[1,true]');
    assert.equal(canonicalize(EVENT), EVENT);
    assert.equal(canonicalize(PARSED), EVENT);
    assert.equal(code(() => canonicalize('{"a":1,"a":2}')), 'duplicate_key');
    assert.equal(code(() => canonicalize('[1] x')), 'trailing_data');
    assert.equal(code(() => canonicalize('[1e400]')), 'number_out_of_range');
    assert.equal(code(() => canonicalize(Buffer.from([0x22, 0xff, 0x22]))), 'invalid_utf8');
    assert.equal(code(() => canonicalize('"\uD800"')), 'lone_surrogate');
    assert.equal(code(() => canonicalize({ n: 1n })), 'invalid_body');
    assert.equal(code(() => canonicalize(undefined)), 'invalid_body');
  });

  test(`${name}: errors are WebhookVerificationError with name, code, status and a useful message`, () => {
    let err;
    try {
      verify(EVENT, { 'X-Menon-Signature': signed['X-Menon-Signature'] }, OLD_SECRET);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Error);
    assert.ok(err instanceof WebhookVerificationError);
    assert.equal(err.name, 'WebhookVerificationError');
    assert.deepEqual([err.code, err.status], ['signature_mismatch', 401]);
    assert.match(err.message, /raw request body/);
    assert.match(String(err.stack), /^WebhookVerificationError: /);
  });
}

test('the two builds are one API: same exports, event types and tolerance', () => {
  const [native, wasm] = BACKENDS.map((b) => b.api);
  assert.deepEqual(Object.keys(native).sort(), Object.keys(wasm).sort());
  assert.deepEqual([native.backend, wasm.backend], ['native', 'wasm']);
  assert.deepEqual(native.EVENT_TYPES, wasm.EVENT_TYPES);
  assert.equal(native.EVENT_TYPES.length, 21);
  assert.equal(native.DEFAULT_TOLERANCE, 300);
  assert.equal(wasm.DEFAULT_TOLERANCE, 300);
  const [rawNative, rawWasm] = BACKENDS.map((b) => b.raw);
  const surface = (raw) => [
    ...Object.keys(raw).filter((k) => typeof raw[k] === 'function' && !k.startsWith('init') && k !== 'default'),
    ...Object.getOwnPropertyNames(raw.Verifier.prototype).filter((k) => k !== 'constructor' && !k.startsWith('__') && k !== 'free' && k !== Symbol.dispose),
  ].sort();
  assert.deepEqual(surface(rawNative), surface(rawWasm));
});

test('WebhookVerificationError instanceof holds across copies of the package (ESM and CommonJS)', () => {
  const require = createRequire(import.meta.url);
  const cjs = require('../dist/node.cjs');
  const esm = BACKENDS[0].api;
  let fromCjs;
  try {
    cjs.verify('{}', {}, SECRET);
  } catch (e) {
    fromCjs = e;
  }
  assert.notEqual(cjs.WebhookVerificationError, undefined);
  assert.ok(fromCjs instanceof esm.WebhookVerificationError);
  assert.equal(fromCjs.code, 'missing_signature');
  assert.equal(new Error('x') instanceof esm.WebhookVerificationError, false);
  assert.equal(null instanceof esm.WebhookVerificationError, false);
});

// ---------------------------------------------------------------------------------------
// Differential: native and wasm agree on mangled inputs, and nothing traps.

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [',', '=', ' ', '\t', 't=', 'v2=', 'v1=', 'sha256=', 'md5=', '0', 'f', 'F', 'g', '-', '\u00e9', '\uD800', '9'.repeat(25), ''];

function mangle(rand, s) {
  const chars = [...s];
  const edits = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (chars.length + 1));
    const r = rand();
    if (r < 0.3) chars.splice(at, 1);
    else if (r < 0.6) chars.splice(at, 0, PIECES[Math.floor(rand() * PIECES.length)]);
    else if (r < 0.8) chars.splice(at, chars.length);
    else chars[at] = String.fromCharCode(Math.floor(rand() * 128));
  }
  return chars.join('');
}

function outcome(api, fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    if (!(e instanceof api.WebhookVerificationError)) throw e;
    return { code: e.code, message: e.message };
  }
}

test('native and wasm agree on 4000 mangled deliveries and JSON texts, and never crash', () => {
  const rand = prng(20250304);
  const [native, wasm] = BACKENDS.map((b) => b.api);
  const base = native.sign(EVENT, [SECRET, OLD_SECRET], { timestamp: NOW });
  const codes = new Set();
  for (let i = 0; i < 4000; i++) {
    const headers = {
      'X-Menon-Signature': rand() < 0.8 ? mangle(rand, base['X-Menon-Signature']) : undefined,
      'X-Menon-Signature-V2': rand() < 0.7 ? mangle(rand, base['X-Menon-Signature-V2']) : undefined,
    };
    const body = rand() < 0.7 ? EVENT : mangle(rand, EVENT);
    const secrets = rand() < 0.9 ? [SECRET, OLD_SECRET] : [mangle(rand, SECRET)];
    const now = NOW + Math.floor((rand() - 0.5) * 1000);
    const args = [body, headers, secrets, { now }];
    const a = outcome(native, () => native.verify(...args));
    const b = outcome(wasm, () => wasm.verify(...args));
    assert.deepEqual(a, b, JSON.stringify(args));
    codes.add(a.code ?? 'ok');
    const text = mangle(rand, EVENT);
    assert.deepEqual(outcome(native, () => native.canonicalize(text)), outcome(wasm, () => wasm.canonicalize(text)), text);
  }
  // The run reached the interesting outcomes, not just one.
  for (const c of ['ok', 'signature_mismatch', 'malformed_signature', 'unsupported_scheme', 'missing_signature', 'timestamp_too_old', 'timestamp_in_future']) {
    assert.ok(codes.has(c), `no ${c} among ${[...codes]}`);
  }
});
