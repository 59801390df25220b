// The fetch-style helpers (createRequestVerifier, verifyRequest, Webhook#verifyRequest)
// against real HTTP requests on loopback, through both backends. A node:http server hands
// each request to a route handler as a Fetch API Request, as Next.js, Workers, Deno and
// Bun do, and writes back its Response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BACKENDS, SECRET, OLD_SECRET, fixtureEvents, listen, post } from './helpers.mjs';

const EVENTS = fixtureEvents();
const EVENT = EVENTS.find((e) => e.file === 'subscription.created.json').text;

/** Serves a `(request: Request) => Promise<Response>` handler over HTTP on loopback. */
function serveFetch(handler) {
  return listen(async (req, res) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Readable.toWeb(req),
      duplex: 'half',
    });
    let response;
    try {
      response = await handler(request);
    } catch (e) {
      response = new Response(`unhandled: ${e}`, { status: 500 });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}

/** A Next.js App Router route handler, written as the README shows it. */
function routeHandler(api, verifyMenon) {
  return async function POST(request) {
    try {
      const event = await verifyMenon(request);
      return Response.json({ received: event.id, type: event.type });
    } catch (err) {
      if (err instanceof api.WebhookVerificationError) {
        return Response.json({ error: err.code }, { status: err.status });
      }
      throw err;
    }
  };
}

async function withFetchServer(handler, fn) {
  const server = await serveFetch(handler);
  try {
    await fn(server.url);
  } finally {
    await server.close();
  }
}

for (const { name, api } of BACKENDS) {
  test(`${name}: createRequestVerifier in a route handler: every fixture event, and refusals`, async () => {
    const POST = routeHandler(api, api.createRequestVerifier(SECRET));
    await withFetchServer(POST, async (url) => {
      for (const { file, text } of EVENTS) {
        const res = await post(url, text, api.sign(text, SECRET));
        const event = JSON.parse(text);
        assert.deepEqual([res.status, res.json], [200, { received: event.id, type: event.type }], file);
      }
      const cases = [
        ['changed body', EVENT.replace('"amount":149,', '"amount":14.9,'), api.sign(EVENT, SECRET), 401, 'signature_mismatch'],
        ['wrong secret', EVENT, api.sign(EVENT, OLD_SECRET), 401, 'signature_mismatch'],
        ['stale', EVENT, api.sign(EVENT, SECRET, { timestamp: 1_700_000_000 }), 401, 'timestamp_too_old'],
        ['unsigned', EVENT, { 'Content-Type': 'application/json' }, 401, 'missing_signature'],
        ['md5', EVENT, { 'X-Menon-Signature': 'md5=abc' }, 401, 'unsupported_scheme'],
      ];
      for (const [what, body, headers, status, code] of cases) {
        const res = await post(url, body, headers);
        assert.deepEqual([res.status, res.json], [status, { error: code }], what);
      }
    });
  });

  test(`${name}: verifyRequest (Workers style) and Webhook#verifyRequest, rotation, big body`, async () => {
    const env = { MENON_WEBHOOK_SECRET: [SECRET, OLD_SECRET] };
    const worker = { fetch: (request) => routeHandler(api, (r) => api.verifyRequest(r, env.MENON_WEBHOOK_SECRET))(request) };
    const big = JSON.stringify({ created_at: '2025-01-01T00:00:00Z', data: { blob: 'é'.repeat(100_000) }, id: 'evt_big', type: 'listing.sold' });
    await withFetchServer(worker.fetch, async (url) => {
      assert.equal((await post(url, EVENT, api.sign(EVENT, OLD_SECRET))).status, 200);
      const res = await post(url, big, api.sign(big, SECRET));
      assert.deepEqual([res.status, res.json], [200, { received: 'evt_big', type: 'listing.sold' }]);
    });
    const webhook = new api.Webhook(SECRET, { tolerance: 60 });
    await withFetchServer(routeHandler(api, (r) => webhook.verifyRequest(r)), async (url) => {
      const now = Math.floor(Date.now() / 1000);
      assert.equal((await post(url, EVENT, api.sign(EVENT, SECRET, { timestamp: now - 30 }))).status, 200);
      const res = await post(url, EVENT, api.sign(EVENT, SECRET, { timestamp: now - 120 }));
      assert.deepEqual([res.status, res.json], [401, { error: 'timestamp_too_old' }]);
    });
  });

  test(`${name}: a body already read is refused (400) unless cloned; the limit answers 413`, async () => {
    const verifyMenon = api.createRequestVerifier(SECRET, { limit: 4096 });
    const readFirst = async (request) => {
      await request.text();
      return routeHandler(api, verifyMenon)(request);
    };
    const afterClone = [];
    const cloned = async (request) => {
      const response = await routeHandler(api, verifyMenon)(request.clone());
      afterClone.push(await request.text());
      return response;
    };
    await withFetchServer(readFirst, async (url) => {
      const res = await post(url, EVENT, api.sign(EVENT, SECRET));
      assert.deepEqual([res.status, res.json], [400, { error: 'invalid_body' }]);
    });
    await withFetchServer(cloned, async (url) => {
      assert.equal((await post(url, EVENT, api.sign(EVENT, SECRET))).status, 200);
      assert.deepEqual(afterClone, [EVENT], 'the original request is still readable');
      const big = JSON.stringify({ pad: 'z'.repeat(5000) });
      const res = await post(url, big, api.sign(big, SECRET));
      assert.deepEqual([res.status, res.json], [413, { error: 'invalid_body' }]);
    });
  });

  test(`${name}: createRequestVerifier made without a secret throws only when used`, async () => {
    const verifyMenon = api.createRequestVerifier(undefined);
    const request = new Request('http://localhost/', { method: 'POST', body: EVENT, headers: api.sign(EVENT, SECRET) });
    await assert.rejects(verifyMenon(request), { code: 'no_secret', status: 500 });
    await assert.rejects(api.verifyRequest({ nope: true }, SECRET), TypeError);
  });
}
