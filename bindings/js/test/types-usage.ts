// Typical uses of @menon/webhooks, type-checked with `tsc --strict` (types.test.mjs).
// Lines marked @ts-expect-error must stay errors: they prove the types refuse them.
import express from 'express';
import {
  DEFAULT_TOLERANCE,
  EVENT_TYPES,
  Webhook,
  WebhookVerificationError,
  backend,
  canonicalize,
  createRequestVerifier,
  expressMiddleware,
  sign,
  verify,
  verifyRequest,
  verifySignature,
  type ErrorCode,
  type EventType,
  type SignedHeaders,
  type WebhookEvent,
} from '@menon/webhooks';

const secret = process.env.MENON_WEBHOOK_SECRET ?? '';

// The discriminated union: `type` narrows `data`.
export function handle(event: WebhookEvent): string {
  switch (event.type) {
    case 'listing.created':
      return event.data.listing.title + (event.data.listing.price ?? 0).toFixed(2);
    case 'message.received':
      return event.data.message.body + event.data.message.sender.role;
    case 'subscription.created':
      return event.data.subscription.plan.name + event.data.subscription.plan.amount.toFixed(0);
    case 'invoice.paid': {
      const data: Record<string, unknown> = event.data;
      // @ts-expect-error only the three documented examples have typed data
      event.data.listing.title;
      return Object.keys(data).join();
    }
    default: {
      const other: EventType = event.type;
      return other + (event.test === true ? ' (test)' : '') + event.id + event.created_at;
    }
  }
}

const event = verify('{}', { 'x-menon-signature': 'sha256=00' }, secret, { now: 1, tolerance: 300 });
handle(event);
handle(verify(new Uint8Array(0), new Headers(), [secret, 'whsec_old'], { now: () => 1 }));
handle(verify({ parsed: true }, new Map([['x-menon-signature-v2', 't=1,v2=00']]), secret));
const custom = verify<{ id: string }>(Buffer.from('{}'), { 'X-Menon-Signature': ['sha256=00'] }, secret);
custom.id.toUpperCase();
// @ts-expect-error tolerance is a number of seconds
verify('{}', {}, secret, { tolerance: '300' });
// @ts-expect-error a header value is a string
verify('{}', { 'x-menon-signature': 42 }, secret);

const headers: SignedHeaders = sign({ id: 'evt_1' }, secret, { timestamp: 1, deliveryId: 'log_1' });
const v1: string = headers['X-Menon-Signature'];
const ok: boolean = verifySignature(JSON.stringify({}), v1, secret) && verifySignature('', undefined, secret);
const text: string = canonicalize({ b: 1, a: [1, 2] }) + canonicalize('[1]') + canonicalize(new Uint8Array());

const webhook = new Webhook([secret], { tolerance: 60, now: () => Math.floor(Date.now() / 1000) });
handle(webhook.verify('{}', {}));
webhook.sign('{}', { timestamp: 1 });

// Express: the middleware's event is on req.menonEvent.
const app = express();
app.post('/webhooks/menon', expressMiddleware(secret), (req, res) => {
  const received: WebhookEvent | undefined = req.menonEvent;
  res.status(received ? 204 : 500).end();
});
app.post(
  '/webhooks/menon-json',
  express.json(),
  expressMiddleware(webhook, {
    limit: 1 << 20,
    onError: (err, _req, res) => res.status(err.status).json({ code: err.code }),
  }),
  (_req, res) => {
    res.sendStatus(204);
  },
);

// Next.js App Router route handler.
const verifyMenon = createRequestVerifier(secret);
export async function POST(request: Request): Promise<Response> {
  try {
    const e = await verifyMenon(request);
    return Response.json({ id: e.id });
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      const code: ErrorCode = err.code;
      return Response.json({ error: code }, { status: err.status });
    }
    throw err;
  }
}

// Cloudflare Workers.
export default {
  async fetch(request: Request, env: { MENON_WEBHOOK_SECRET: string }): Promise<Response> {
    const e = await verifyRequest(request, env.MENON_WEBHOOK_SECRET);
    const again = await webhook.verifyRequest(request.clone(), { limit: 1000 });
    return new Response(e.type + again.id);
  },
};

// @ts-expect-error not one of the 21 types
const unknownType: EventType = 'listing.teleported';
const which: 'native' | 'wasm' = backend;
const tolerance: number = DEFAULT_TOLERANCE;
const all: readonly EventType[] = EVENT_TYPES;
export const used = [ok, text, unknownType, which, tolerance, all];
