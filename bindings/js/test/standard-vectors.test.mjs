// Every vector of fixtures/vectors/standard.json through the native addon and the
// WebAssembly build: Standard Webhooks sign and verify (the low-level StandardKey, with the
// exact timestamp, and the public StandardWebhook), RFC 8032 and every Wycheproof Ed25519
// case through the low-level ed25519Verify. A failure names the vector (or its tcId).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS, FIXTURES, show } from './helpers.mjs';

const STD = JSON.parse(readFileSync(join(FIXTURES, 'vectors', 'standard.json'), 'utf8'));
const { rfc8032: RFC8032, wycheproof: WYCHEPROOF } = STD.ed25519;
const HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];

const bodyOf = (v) => ('body_hex' in v ? Buffer.from(v.body_hex, 'hex') : Buffer.from(v.body, 'utf8'));
const hex = (h) => Buffer.from(h, 'hex');

/** The value, or the error code it threw: { ok } or { error }. */
function outcome(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    assert.equal(typeof e.code, 'string', `threw without a code: ${e}`);
    return { error: e.code };
  }
}

test('standard.json holds every section, none empty', () => {
  assert.ok(STD.sign.length >= 15, `${STD.sign.length} sign vectors`);
  assert.ok(STD.verify.length >= 80, `${STD.verify.length} verify vectors`);
  assert.ok(STD.verify.filter((v) => v.valid).length >= 20, 'valid verify vectors');
  assert.equal(RFC8032.length, 5);
  assert.ok(WYCHEPROOF.tests.length >= 150, `${WYCHEPROOF.tests.length} Wycheproof cases`);
  assert.equal(WYCHEPROOF.tests.length, WYCHEPROOF.number_of_tests);
  assert.equal(STD.tolerance, 300);
});

for (const { name, raw, api } of BACKENDS) {
  test(`${name}: every Standard Webhooks sign vector, bytes and text`, () => {
    let signed = 0;
    for (const v of STD.sign) {
      const body = bodyOf(v);
      const bytes = outcome(() => new api.StandardWebhook(v.key).sign(v.msg_id, v.timestamp, body));
      const low = outcome(() => new raw.StandardKey(v.key).sign(v.msg_id, v.timestamp, body));
      const want = 'signature' in v ? { ok: v.signature } : { error: v.error };
      assert.deepEqual(bytes, want, `${v.name}: ${show(v)}`);
      assert.deepEqual(low, want, `${v.name} (StandardKey): ${show(v)}`);
      if ('body' in v) {
        const text = outcome(() => new api.StandardWebhook(v.key).sign(v.msg_id, v.timestamp, v.body));
        assert.deepEqual(text, want, `${v.name} (text body): ${show(v)}`);
      }
      signed += 'signature' in v ? 1 : 0;
    }
    assert.ok(signed >= 15, `${signed} signatures`);
  });

  test(`${name}: every Standard Webhooks verify vector, bytes and text`, () => {
    let checked = 0;
    for (const v of STD.verify) {
      const body = bodyOf(v);
      const [id, ts, sig] = HEADERS.map((h) => v.headers[h] ?? '');
      const low = outcome(() => new raw.StandardKey(v.key).verify(id, ts, sig, body, v.now));
      assert.deepEqual(low, v.valid ? { ok: v.timestamp } : { error: v.error }, `${v.name} (StandardKey): ${show(v)}`);
      const wantApi = v.valid ? { ok: JSON.parse(body.toString('utf8')) } : { error: v.error };
      for (const payload of 'body' in v ? [body, v.body] : [body]) {
        const got = outcome(() => new api.StandardWebhook(v.key).verify(payload, { ...v.headers }, { now: v.now }));
        assert.deepEqual(got, wantApi, `${v.name} (${typeof payload}): ${show(v)}`);
      }
      checked++;
    }
    assert.ok(checked >= 80, `${checked} verify vectors`);
  });

  test(`${name}: RFC 8032 section 7.1 through ed25519Verify`, () => {
    for (const v of RFC8032) {
      const [pk, msg, sig] = [hex(v.public_key), hex(v.message), hex(v.signature)];
      assert.equal(raw.ed25519Verify(pk, msg, sig), v.valid, v.name);
      const signing = new api.StandardWebhook(`whsk_${hex(v.secret_key).toString('base64')}`);
      assert.equal(signing.publicKey, `whpk_${pk.toString('base64')}`, `${v.name}: public key`);
      assert.equal(raw.ed25519Verify(pk, Buffer.concat([msg, Buffer.from([0])]), sig), false, `${v.name}: longer message`);
    }
  });

  test(`${name}: every Wycheproof Ed25519 case through ed25519Verify`, () => {
    let valid = 0;
    for (const t of WYCHEPROOF.tests) {
      assert.ok(t.valid === (t.result === 'valid') || typeof t.reason === 'string', `tcId ${t.tcId}: no reason`);
      const got = raw.ed25519Verify(hex(t.public_key), hex(t.msg), hex(t.sig));
      assert.equal(got, t.valid, `tcId ${t.tcId} (${t.comment}; ${t.flags.join(', ')})`);
      valid += got ? 1 : 0;
    }
    assert.ok(valid >= 80 && WYCHEPROOF.tests.length - valid >= 60, `${valid} valid`);
  });
}
