// expressMiddleware() against real HTTP requests on loopback, through both backends:
// the raw body read by the middleware itself, or left by express.json(), express.raw()
// or express.text() before it; refusals answered 401 (413 for an oversized body, 400 for a
// validly signed body that is not an event) with the error code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { BACKENDS, SECRET, OLD_SECRET, fixtureEvents, listen, post } from './helpers.mjs';

const EVENTS = fixtureEvents();
const EVENT = EVENTS.find((e) => e.file === 'message.received.json').text;
const NOW = () => Math.floor(Date.now() / 1000);

// Bodies a sender could sign that are not events: [what, body, the refusal's code].
const NOT_EVENTS = [
  ['a JSON array', '[1,2]', 'invalid_envelope'],
  ['an array of one event', `[${EVENT}]`, 'invalid_envelope'],
  ['JSON null', 'null', 'invalid_envelope'],
  ['a JSON string', '"evt_1"', 'invalid_envelope'],
  ['a JSON number', '42', 'invalid_envelope'],
  ['text that is not JSON', 'hello, world', 'invalid_json'],
  ['JSON cut short', EVENT.slice(0, 40), 'invalid_json'],
  ['an empty body', '', 'invalid_json'],
  ['bytes that are not UTF-8', Buffer.from([0xff, 0x7b, 0x7d]), 'invalid_utf8'],
];

/** An app whose handler after the middleware records req.menonEvent and req.body. */
function app(api, { before = [], secret = SECRET, options, mutate } = {}) {
  const seen = [];
  const a = express();
  a.post('/hook', ...before, (req, _res, next) => {
    if (mutate) mutate(req);
    next();
  }, api.expressMiddleware(secret, options), (req, res) => {
    seen.push({ event: req.menonEvent, body: req.body, rawBody: req.rawBody });
    res.status(204).end();
  });
  return { app: a, seen };
}

async function withServer(handler, fn) {
  const server = await listen(handler);
  try {
    await fn(`${server.url}/hook`);
  } finally {
    await server.close();
  }
}

for (const { name, api } of BACKENDS) {
  test(`${name}: raw body read by the middleware; every fixture event accepted`, async () => {
    const { app: a, seen } = app(api);
    await withServer(a, async (url) => {
      for (const { file, text } of EVENTS) {
        const res = await post(url, text, api.sign(text, SECRET));
        assert.equal(res.status, 204, `${file}: ${JSON.stringify(res.json)}`);
        const { event, body, rawBody } = seen.at(-1);
        assert.deepEqual(event, JSON.parse(text), file);
        assert.equal(body, event, `${file}: req.body is the event`);
        assert.equal(Buffer.from(rawBody).toString('utf8'), text, `${file}: req.rawBody is the raw body`);
      }
    });
  });

  test(`${name}: a body sent after express.json() ran is verified from its canonical form`, async () => {
    const { app: a, seen } = app(api, { before: [express.json()] });
    await withServer(a, async (url) => {
      for (const { file, text } of EVENTS) {
        const res = await post(url, text, api.sign(text, SECRET));
        assert.equal(res.status, 204, `${file}: ${JSON.stringify(res.json)}`);
        assert.deepEqual(seen.at(-1).event, JSON.parse(text), file);
      }
      // Whitespace the sender added is gone after parsing, and the signature covers it:
      // a non-canonical body verifies only from its raw bytes.
      const spaced = JSON.stringify(JSON.parse(EVENT), null, 2);
      const res = await post(url, spaced, api.sign(spaced, SECRET));
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, 'signature_mismatch');
    });
  });

  test(`${name}: a parsed body changed by a middleware is refused with a hint about raw bytes`, async () => {
    const mutate = (req) => {
      req.body.data.message.body += ' (edited)';
    };
    const { app: a, seen } = app(api, { before: [express.json()], mutate });
    await withServer(a, async (url) => {
      const res = await post(url, EVENT, api.sign(EVENT, SECRET));
      assert.equal(res.status, 401);
      assert.equal(res.json.success, false);
      assert.equal(res.json.error.code, 'signature_mismatch');
      assert.match(res.json.error.message, /probably modified/);
      assert.match(res.json.error.message, /express\.raw/);
      assert.equal(seen.length, 0);
    });
  });

  test(`${name}: after express.raw() and express.text()`, async () => {
    for (const before of [express.raw({ type: 'application/json' }), express.text({ type: 'application/json' })]) {
      const { app: a, seen } = app(api, { before: [before] });
      await withServer(a, async (url) => {
        const res = await post(url, EVENT, api.sign(EVENT, SECRET));
        assert.equal(res.status, 204, JSON.stringify(res.json));
        assert.deepEqual(seen.at(-1).event, JSON.parse(EVENT));
        const bad = await post(url, EVENT.replace('John Smith', 'Jon Smith'), api.sign(EVENT, SECRET));
        assert.equal(bad.status, 401);
        assert.equal(bad.json.error.code, 'signature_mismatch');
      });
    }
  });

  test(`${name}: refusals answer 401 with the core's code`, async () => {
    const { app: a, seen } = app(api);
    const good = api.sign(EVENT, SECRET);
    const v1Only = { 'Content-Type': 'application/json', 'X-Menon-Signature': good['X-Menon-Signature'] };
    const hex = good['X-Menon-Signature'].slice('sha256='.length);
    const cases = [
      ['no signature headers', { 'Content-Type': 'application/json' }, 'missing_signature'],
      ['another secret', api.sign(EVENT, OLD_SECRET), 'signature_mismatch'],
      ['body changed', good, 'signature_mismatch', EVENT.replace('still available?', 'still available?!')],
      ['v1 sha256= only', { 'X-Menon-Signature': 'sha256=' }, 'malformed_signature'],
      ['v1 non-hex', { 'X-Menon-Signature': `sha256=${'z'.repeat(64)}` }, 'malformed_signature'],
      ['v1 truncated', { 'X-Menon-Signature': `sha256=${hex.slice(0, 63)}` }, 'malformed_signature'],
      ['v1 md5=', { 'X-Menon-Signature': `md5=${hex.slice(0, 32)}` }, 'unsupported_scheme'],
      ['v2 without t', { 'X-Menon-Signature-V2': `v2=${hex}` }, 'malformed_signature'],
      ['v2 stale', api.sign(EVENT, SECRET, { timestamp: NOW() - 301 }), 'timestamp_too_old'],
      ['v2 ahead', api.sign(EVENT, SECRET, { timestamp: NOW() + 3600 }), 'timestamp_in_future'],
      // v2 is used when present: a valid v1 does not rescue a stale v2.
      ['valid v1, stale v2', { ...api.sign(EVENT, SECRET, { timestamp: 1000 }), 'X-Menon-Signature': good['X-Menon-Signature'] }, 'timestamp_too_old'],
    ];
    await withServer(a, async (url) => {
      for (const [what, headers, code, body = EVENT] of cases) {
        const res = await post(url, body, headers);
        assert.equal(res.status, 401, what);
        assert.deepEqual(Object.keys(res.json), ['success', 'error'], what);
        assert.equal(res.json.error.code, code, what);
        assert.ok(res.json.error.message.length > 20, what);
      }
      assert.equal(seen.length, 0);
      // The docs' scheme alone (no v2 header) is accepted.
      const res = await post(url, EVENT, v1Only);
      assert.equal(res.status, 204);
    });
  });

  test(`${name}: a validly signed body that is not an event answers 400; the handler never runs`, async () => {
    const { app: a, seen } = app(api);
    await withServer(a, async (url) => {
      for (const [what, body, code] of NOT_EVENTS) {
        const res = await post(url, body, api.sign(body, SECRET));
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
        assert.deepEqual(Object.keys(res.json), ['success', 'error'], what);
        assert.equal(res.json.success, false, what);
        assert.equal(res.json.error.code, code, what);
        assert.match(res.json.error.message, /signed correctly|signature is valid/, what);
        assert.equal(seen.length, 0, `${what}: the handler ran`);
      }
      // The same handler records an event, so it would have recorded one of those.
      assert.equal((await post(url, EVENT, api.sign(EVENT, SECRET))).status, 204);
      assert.equal(seen.length, 1);
    });
  });

  test(`${name}: not an event after express.json() or express.text(): 400 with the code`, async () => {
    // express.json() (strict) parses only objects and arrays; express.text() keeps the text.
    const arrays = NOT_EVENTS.filter(([, body]) => typeof body === 'string' && body.startsWith('['));
    const texts = NOT_EVENTS.filter(([, body]) => typeof body === 'string' && body !== '');
    for (const [before, cases] of [[express.json(), arrays], [express.text({ type: 'application/json' }), texts]]) {
      const { app: a, seen } = app(api, { before: [before] });
      await withServer(a, async (url) => {
        for (const [what, body, code] of cases) {
          const res = await post(url, body, api.sign(body, SECRET));
          assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
          assert.equal(res.json.error.code, code, what);
        }
        assert.equal(seen.length, 0);
      });
    }
  });

  test(`${name}: a body that is not an event, signed with another secret, is a signature refusal`, async () => {
    // The body is parsed only once its signature holds: a forger learns nothing about it.
    const { app: a, seen } = app(api);
    await withServer(a, async (url) => {
      for (const [what, body] of NOT_EVENTS) {
        const res = await post(url, body, api.sign(body, OLD_SECRET));
        assert.deepEqual([res.status, res.json.error.code], [401, 'signature_mismatch'], what);
      }
      assert.equal(seen.length, 0);
    });
  });

  test(`${name}: a Webhook with rotated secrets, a 256 KiB body, concurrent deliveries`, async () => {
    const webhook = new api.Webhook([SECRET, OLD_SECRET]);
    const { app: a, seen } = app(api, { secret: webhook });
    const big = JSON.stringify({ created_at: '2025-01-01T00:00:00Z', data: { blob: 'x'.repeat(256 * 1024) }, id: 'evt_big', type: 'listing.updated' });
    await withServer(a, async (url) => {
      // Signed by a sender that has only the old secret so far.
      assert.equal((await post(url, EVENT, api.sign(EVENT, OLD_SECRET))).status, 204);
      assert.equal((await post(url, big, api.sign(big, SECRET))).status, 204);
      assert.equal(seen.at(-1).event.data.blob.length, 256 * 1024);
      const results = await Promise.all(EVENTS.map(({ text }) => post(url, text, api.sign(text, SECRET))));
      assert.deepEqual(results.map((r) => r.status), EVENTS.map(() => 204));
      assert.equal(seen.length, 2 + EVENTS.length);
    });
  });

  test(`${name}: a body over the limit answers 413; onError replaces the answer`, async () => {
    const { app: a } = app(api, { options: { limit: 1000 } });
    await withServer(a, async (url) => {
      const body = JSON.stringify({ pad: 'y'.repeat(2000) });
      const res = await post(url, body, api.sign(body, SECRET));
      assert.equal(res.status, 413);
      assert.equal(res.json.error.code, 'invalid_body');
      assert.match(res.json.error.message, /limit/);
    });
    const onError = (err, _req, res) => res.status(418).json({ mine: err.code });
    const { app: b } = app(api, { options: { onError } });
    await withServer(b, async (url) => {
      const res = await post(url, EVENT, { 'X-Menon-Signature': 'sha256=00' });
      assert.deepEqual([res.status, res.json], [418, { mine: 'malformed_signature' }]);
    });
  });

  test(`${name}: a missing secret fails when the middleware is made, not per request`, () => {
    for (const secret of [undefined, '', [], [SECRET, undefined]]) {
      assert.throws(() => api.expressMiddleware(secret), { name: 'WebhookVerificationError', code: 'no_secret', status: 500 });
    }
  });
}
