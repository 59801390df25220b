// Standard Webhooks through StandardWebhook, on the native addon and the WebAssembly
// build: the official libraries' example, both directions against npm `standardwebhooks`
// (v1, HMAC) and node:crypto's Ed25519 (v1a), and each refusal with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { Webhook as OfficialWebhook } from 'standardwebhooks';
import { BACKENDS } from './helpers.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const headers = (id, t, signature) => ({
  'webhook-id': id,
  'webhook-timestamp': String(t),
  'webhook-signature': signature,
});

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.code;
  }
  return 'ok';
}

function randomPayload(n) {
  return JSON.stringify({ type: 'user.created', data: { n, note: 'é✓'.repeat(n % 4), r: Math.random() } });
}

/** Raw 32-byte Ed25519 seed and public key of a node:crypto key pair (from its JWK). */
function rawKeys({ privateKey, publicKey }) {
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    seed: Buffer.from(jwk.d, 'base64url'),
    pub: Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url'),
  };
}

for (const { name, api } of BACKENDS) {
  const { StandardWebhook } = api;

  test(`${name}: the official example`, () => {
    const wh = new StandardWebhook(SECRET);
    assert.equal(wh.sign(MSG_ID, new Date(TIMESTAMP * 1000), PAYLOAD), SIGNATURE);
    assert.equal(wh.sign(MSG_ID, TIMESTAMP, Buffer.from(PAYLOAD)), SIGNATURE);
    assert.deepEqual(wh.verify(PAYLOAD, headers(MSG_ID, TIMESTAMP, SIGNATURE), { now: TIMESTAMP }), {
      test: 2432232314,
    });
    assert.equal(wh.publicKey, undefined);
    // { jsonParse: false } verifies and returns undefined, as npm standardwebhooks does.
    const good = headers(MSG_ID, TIMESTAMP, SIGNATURE);
    assert.equal(wh.verify(PAYLOAD, good, { now: TIMESTAMP, jsonParse: false }), undefined);
    assert.throws(() => wh.verify(`${PAYLOAD} `, good, { now: TIMESTAMP, jsonParse: false }), {
      code: 'signature_mismatch',
    });
    const raw = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    assert.equal(new StandardWebhook(raw).sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
  });

  test(`${name}: v1 both ways with npm standardwebhooks`, () => {
    for (let n = 0; n < 50; n++) {
      const secret = `whsec_${randomBytes(n % 2 ? 24 : 32).toString('base64')}`;
      const ours = new StandardWebhook(secret);
      const theirs = new OfficialWebhook(secret);
      const payload = randomPayload(n);
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const now = new Date();
      const t = Math.floor(now.getTime() / 1000);
      const signed = ours.sign(id, now, payload);
      assert.equal(theirs.sign(id, now, payload), signed);
      assert.deepEqual(theirs.verify(payload, headers(id, t, signed)), JSON.parse(payload));
      assert.deepEqual(ours.verify(Buffer.from(payload), headers(id, t, theirs.sign(id, now, payload))), JSON.parse(payload));
    }
  });

  test(`${name}: v1a both ways with node:crypto Ed25519`, () => {
    for (let n = 0; n < 20; n++) {
      const pair = generateKeyPairSync('ed25519');
      const { seed, pub } = rawKeys(pair);
      const signing = new StandardWebhook(`whsk_${seed.toString('base64')}`);
      const publicKey = `whpk_${pub.toString('base64')}`;
      const verifying = new StandardWebhook(publicKey);
      assert.equal(signing.publicKey, publicKey);
      assert.equal(verifying.publicKey, publicKey);
      const payload = randomPayload(n);
      const id = `msg_${n}`;
      const t = Math.floor(Date.now() / 1000);
      const content = Buffer.from(`${id}.${t}.${payload}`);
      const ours = signing.sign(id, t, payload);
      assert.ok(ours.startsWith('v1a,'));
      assert.ok(verify(null, content, pair.publicKey, Buffer.from(ours.slice(4), 'base64')), 'node:crypto refused ours');
      const theirs = `v1a,${sign(null, content, pair.privateKey).toString('base64')}`;
      for (const wh of [verifying, signing]) {
        assert.deepEqual(wh.verify(payload, headers(id, t, theirs)), JSON.parse(payload));
      }
      // Versions do not cross: the HMAC secret ignores v1a entries, the key v1 entries.
      const hmac = new StandardWebhook(SECRET);
      assert.equal(codeOf(() => hmac.verify(payload, headers(id, t, theirs))), 'signature_mismatch');
      assert.equal(codeOf(() => verifying.verify(payload, headers(id, t, hmac.sign(id, t, payload)))), 'signature_mismatch');
      assert.equal(codeOf(() => verifying.sign(id, t, payload)), 'invalid_secret');
    }
  });

  test(`${name}: each refusal has its code`, () => {
    const wh = new StandardWebhook(SECRET);
    const good = headers(MSG_ID, TIMESTAMP, SIGNATURE);
    const at = (h, now = TIMESTAMP, body = PAYLOAD) => codeOf(() => wh.verify(body, h, { now }));
    assert.equal(at(good, TIMESTAMP, PAYLOAD + ' '), 'signature_mismatch');
    assert.equal(at(good, TIMESTAMP + 301), 'timestamp_too_old');
    assert.equal(at(good, TIMESTAMP - 301), 'timestamp_in_future');
    for (const [drop, code] of [
      ['webhook-id', 'missing_header'],
      ['webhook-timestamp', 'missing_header'],
      ['webhook-signature', 'missing_signature'],
    ]) {
      const partial = { ...good };
      delete partial[drop];
      assert.equal(at(partial), code, drop);
    }
    assert.equal(at({ ...good, 'webhook-timestamp': 'soon' }), 'invalid_timestamp');
    // Header names in any case, and fetch Headers.
    assert.equal(at({ 'Webhook-Id': MSG_ID, 'WEBHOOK-TIMESTAMP': String(TIMESTAMP), 'Webhook-Signature': SIGNATURE }), 'ok');
    assert.equal(at(new Headers(good)), 'ok');
    for (const bad of ['whsec_!!', 'whsec_', 'whpk_AAAA', 'whsk_AAAA']) {
      assert.equal(codeOf(() => new StandardWebhook(bad)), 'invalid_secret', bad);
    }
    const refused = (() => {
      try {
        wh.verify(PAYLOAD, good, { now: TIMESTAMP + 301 });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(refused instanceof api.WebhookVerificationError);
    assert.equal(refused.status, 401);
    assert.throws(() => new StandardWebhook(42), TypeError);
    assert.equal(codeOf(() => wh.verify({ test: 1 }, good, { now: TIMESTAMP })), 'invalid_body');
  });
}
