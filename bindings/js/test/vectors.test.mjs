// Every vector of fixtures/vectors, byte for byte, through the native addon and the
// WebAssembly build: the low-level surface (the exact outcome and secret index) and the
// public API (what a user calls). A failure prints the whole vector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, SIG, CANON, bodyOf, show } from './helpers.mjs';

const DEFAULT_TOLERANCE = 300;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes) {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The outcome of a low-level call: { index } or { error: code }. */
function outcome(fn) {
  try {
    return { index: fn() };
  } catch (e) {
    assert.equal(typeof e.code, 'string', `backend threw without a code: ${e}`);
    return { error: e.code };
  }
}

test('the vector files are the size the core promises', () => {
  assert.ok(SIG.sign.length >= 19, `${SIG.sign.length} sign vectors`);
  assert.ok(SIG.verify.length >= 120, `${SIG.verify.length} verify vectors`);
  assert.ok(CANON.cases.length >= 290, `${CANON.cases.length} canonicalize cases`);
  assert.ok(SIG.deliveries.length >= 15, `${SIG.deliveries.length} delivery vectors`);
  assert.ok(SIG.deliveries.some((v) => v.require_v2), 'delivery vectors with require_v2');
});

for (const { name, raw, api } of BACKENDS) {
  test(`${name}: every sign vector, bytes and text`, () => {
    for (const v of SIG.sign) {
      const body = bodyOf(v);
      const verifier = new raw.Verifier(v.secrets);
      assert.equal(verifier.sign(body), v.v1, `v1 ${show(v)}`);
      assert.equal(verifier.signV2(v.timestamp, body), v.v2, `v2 ${show(v)}`);
      assert.deepEqual(
        verifier.deliveryHeaders(body, v.timestamp, undefined, undefined, undefined),
        ['Content-Type', 'application/json', 'X-Menon-Timestamp', String(v.timestamp), 'X-Menon-Signature', v.v1, 'X-Menon-Signature-V2', v.v2],
        `deliveryHeaders ${show(v)}`,
      );
      const headers = new api.Webhook(v.secrets).sign(body, { timestamp: v.timestamp });
      assert.equal(headers['X-Menon-Signature'], v.v1, `Webhook.sign v1 ${show(v)}`);
      assert.equal(headers['X-Menon-Signature-V2'], v.v2, `Webhook.sign v2 ${show(v)}`);
      assert.equal(headers['X-Menon-Timestamp'], String(v.timestamp), show(v));
      if (isUtf8(body)) {
        const text = body.toString('utf8');
        assert.equal(verifier.signStr(text), v.v1, `v1 of text ${show(v)}`);
        assert.equal(verifier.signV2Str(v.timestamp, text), v.v2, `v2 of text ${show(v)}`);
        assert.deepEqual(
          verifier.deliveryHeadersStr(text, v.timestamp, undefined, undefined, undefined),
          verifier.deliveryHeaders(body, v.timestamp, undefined, undefined, undefined),
          `deliveryHeadersStr ${show(v)}`,
        );
        const h = api.sign(text, v.secrets, { timestamp: v.timestamp });
        assert.deepEqual([h['X-Menon-Signature'], h['X-Menon-Signature-V2']], [v.v1, v.v2], `sign(text) ${show(v)}`);
      }
    }
  });

  test(`${name}: every verify vector through Verifier.verifyDelivery (code and secret index)`, () => {
    let checked = 0;
    for (const v of SIG.verify) {
      const body = bodyOf(v);
      const tolerance = v.tolerance ?? DEFAULT_TOLERANCE;
      const [v1, v2] = v.scheme === 'v1' ? [v.header, undefined] : [undefined, v.header];
      let verifier;
      const made = outcome(() => {
        verifier = new raw.Verifier(v.secrets);
        return 0;
      });
      const calls = [(b) => verifier.verifyDelivery(b, v1, v2, v.now ?? 0, tolerance)];
      if (isUtf8(body)) calls.push((b) => verifier.verifyDeliveryStr(b.toString('utf8'), v1, v2, v.now ?? 0, tolerance));
      for (const call of calls) {
        const got = made.error ? made : outcome(() => call(body));
        if (v.valid) {
          assert.equal(got.error, undefined, `expected valid ${show(v)}`);
          assert.equal(got.index, v.scheme === 'v2' ? v.secret_index : 0, `secret index ${show(v)}`);
        } else {
          assert.equal(got.error, v.error, show(v));
        }
        checked++;
      }
    }
    assert.ok(checked > SIG.verify.length);
  });

  test(`${name}: every verify vector through verify() with headers, and verifySignature() for v1`, () => {
    for (const v of SIG.verify) {
      const body = bodyOf(v);
      const header = v.scheme === 'v1' ? 'X-Menon-Signature' : 'X-Menon-Signature-V2';
      const options = { now: v.now ?? 0, tolerance: v.tolerance ?? DEFAULT_TOLERANCE };
      let result;
      try {
        result = { event: api.verify(body, { [header]: v.header }, v.secrets, options) };
      } catch (e) {
        assert.ok(e instanceof api.WebhookVerificationError, `${e} ${show(v)}`);
        result = { error: e.code };
      }
      if (v.valid) {
        // Signed correctly; verify() then parses the body: an event object, or a refusal.
        const text = isUtf8(body) ? body.toString('utf8') : undefined;
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const isObject = json !== null && typeof json === 'object' && !Array.isArray(json);
        if (isObject) assert.deepEqual(result.event, json, show(v));
        else if (json !== undefined) assert.equal(result.error, 'invalid_envelope', show(v));
        else assert.equal(result.error, text === undefined ? 'invalid_utf8' : 'invalid_json', show(v));
      } else {
        assert.equal(result.error, v.error, show(v));
      }
      if (v.scheme === 'v1') {
        assert.equal(api.verifySignature(body, v.header, v.secrets), v.valid, `verifySignature ${show(v)}`);
        if (v.secrets.length === 1) {
          assert.equal(api.verifySignature(body, v.header, v.secrets[0]), v.valid, `verifySignature(secret) ${show(v)}`);
        }
      }
    }
  });

  test(`${name}: every delivery vector (both headers, one, none; requireV2 on and off)`, () => {
    for (const v of SIG.deliveries) {
      const body = bodyOf(v);
      const tolerance = v.tolerance ?? DEFAULT_TOLERANCE;
      const v1 = v.headers['X-Menon-Signature'];
      const v2 = v.headers['X-Menon-Signature-V2'];
      // The low level: requireV2 as the vector says, and left out when false (the default).
      const verifier = new raw.Verifier(v.secrets);
      const low = v.require_v2
        ? outcome(() => verifier.verifyDelivery(body, v1, v2, v.now, tolerance, true))
        : outcome(() => verifier.verifyDelivery(body, v1, v2, v.now, tolerance));
      // The public API: per call, and as the Webhook's default.
      const options = { now: v.now, tolerance, ...(v.require_v2 ? { requireV2: true } : {}) };
      const api1 = outcome(() => (api.verify(body, v.headers, v.secrets, options), v.secret_index));
      const api2 = outcome(() => (new api.Webhook(v.secrets, options).verify(body, v.headers), v.secret_index));
      for (const got of [low, api1, api2]) {
        if (v.valid) assert.deepEqual(got, { index: v.secret_index }, show(v));
        else assert.deepEqual(got, { error: v.error }, show(v));
      }
    }
  });

  test(`${name}: requireV2 must be a boolean, and a per-call false overrides the Webhook's true`, () => {
    const v = SIG.deliveries.find((x) => x.name === 'delivery/default/v1-only');
    const body = bodyOf(v);
    assert.throws(() => api.verify(body, v.headers, v.secrets, { requireV2: 'yes' }), /requireV2 must be true or false/);
    assert.throws(() => new api.Webhook(v.secrets, { requireV2: 1 }), TypeError);
    const strict = new api.Webhook(v.secrets, { requireV2: true });
    assert.throws(() => strict.verify(body, v.headers), (e) => e.code === 'missing_signature' && e.status === 401);
    assert.doesNotThrow(() => strict.verify(body, v.headers, { requireV2: false }));
  });

  test(`${name}: every canonicalize case, as text and as bytes`, () => {
    for (const c of CANON.cases) {
      const bytes = 'input_hex' in c ? Buffer.from(c.input_hex, 'hex') : Buffer.from(c.input, 'utf8');
      const inputs = [['bytes', () => raw.canonicalizeBytes(bytes)], ['api bytes', () => api.canonicalize(bytes)]];
      if ('input' in c) inputs.push(['text', () => raw.canonicalize(c.input)], ['api text', () => api.canonicalize(c.input)]);
      for (const [how, run] of inputs) {
        let got;
        try {
          got = { output: run() };
        } catch (e) {
          assert.equal(typeof e.code, 'string', `${how}: ${e} ${show(c)}`);
          got = { error: e.code };
        }
        if ('output' in c) assert.deepEqual(got, { output: c.output }, `${how} ${show(c)}`);
        else assert.deepEqual(got, { error: c.error }, `${how} ${show(c)}`);
      }
    }
  });

  test(`${name}: canonicalize(JSON.parse(input)) equals every expected output`, () => {
    let checked = 0;
    for (const c of CANON.cases.filter((x) => 'output' in x && 'input' in x)) {
      const parsed = JSON.parse(c.input);
      // A string argument is JSON text, not a parsed value: those cases are the text runs above.
      if (typeof parsed === 'string') continue;
      assert.equal(api.canonicalize(parsed), c.output, show(c));
      checked++;
    }
    assert.ok(checked >= 100, `${checked} cases`);
  });
}
