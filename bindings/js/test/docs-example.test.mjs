// The docs' own Node receiver (`verifyWebhook` over `JSON.stringify(req.body)` behind
// `express.json()`) accepts every fixture event signed by the core, over real HTTP, and
// so does this package's drop-in `verifySignature` in its place.
//
// `verifyWebhook` below is the docs' own function, as the docs print it ("Verify in Node.js"):
// HMAC-SHA256 keyed with the whole secret string, over the re-serialized parsed body,
// compared with the `X-Menon-Signature` header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import express from 'express';
import { BACKENDS, SECRET, fixtureEvents, listen, post } from './helpers.mjs';

function verifyWebhook(payload, signature, secret) {
  const expectedSignature = crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');
  return `sha256=${expectedSignature}` === signature;
}

const EVENTS = fixtureEvents();

test('there is a fixture event for each of the 21 types', () => {
  assert.equal(EVENTS.length, 21);
  assert.deepEqual(new Set(EVENTS.map((e) => JSON.parse(e.text).type)), new Set(BACKENDS[0].api.EVENT_TYPES));
});

for (const { name, api } of BACKENDS) {
  test(`${name}: the docs' receiver accepts every fixture event signed by the core`, async () => {
    const seen = [];
    const app = express();
    app.post('/webhooks/menon', express.json(), (req, res) => {
      const signature = req.headers['x-menon-signature'];
      const payload = JSON.stringify(req.body);
      const docs = verifyWebhook(payload, signature, SECRET);
      const ours = api.verifySignature(payload, signature, SECRET);
      let event;
      try {
        event = api.verify(req.body, req.headers, SECRET);
      } catch (e) {
        event = e.code;
      }
      seen.push({ docs, ours, event });
      if (!docs) return res.status(401).send('Invalid signature');
      res.status(200).send('OK');
    });
    const server = await listen(app);
    try {
      for (const { file, text } of EVENTS) {
        const { status } = await post(`${server.url}/webhooks/menon`, text, api.sign(text, SECRET));
        assert.equal(status, 200, file);
        const { docs, ours, event } = seen.at(-1);
        assert.equal(docs, true, file);
        assert.equal(ours, true, `verifySignature: ${file}`);
        assert.deepEqual(event, JSON.parse(text), `verify(req.body): ${file}`);
      }
      // And the receiver does refuse: a body changed after signing.
      const { text } = EVENTS[0];
      const changed = text.replace('"data":{', '"data":{"injected":true,');
      const { status } = await post(`${server.url}/webhooks/menon`, changed, api.sign(text, SECRET));
      assert.equal(status, 401);
      assert.deepEqual(seen.at(-1), { docs: false, ours: false, event: 'signature_mismatch' });
    } finally {
      await server.close();
    }
  });
}
