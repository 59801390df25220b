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
  type MessageReceivedEvent,
  type SignedHeaders,
  type SubscriptionCreatedEvent,
  type WebhookEvent,
} from '@menon/webhooks';

const secret = process.env.MENON_WEBHOOK_SECRET ?? '';

// The discriminated union: `type` narrows `data`, one typed resource per event type.
export function handle(event: WebhookEvent): string {
  switch (event.type) {
    case 'listing.created':
      return event.data.listing.title + event.data.listing.price.toFixed(2) + event.data.listing.currency;
    case 'listing.sold':
      return event.data.listing.sold_at + (event.data.listing.sold_price ?? event.data.listing.price);
    case 'message.received':
      return event.data.message.content + event.data.message.sender.name + event.data.message.listing.title;
    case 'message.read':
      return event.data.message.read_by.name + event.data.message.read_at;
    case 'conversation.created':
      return event.data.conversation.participants.map((p) => p.role).join();
    case 'subscription.created':
      return event.data.subscription.plan.name + event.data.subscription.price.amount.toFixed(0);
    case 'payment.succeeded':
      return event.data.payment.amount.toFixed(2) + event.data.payment.currency + (event.data.payment.method?.last4 ?? '');
    case 'invoice.paid': {
      const paid: number = event.data.invoice.amount_paid ?? event.data.invoice.amount;
      // @ts-expect-error the invoice's number is a string (MM-2024-000412)
      const number: number = event.data.invoice.number;
      // @ts-expect-error an invoice event has no data.listing
      event.data.listing.title;
      // Members the docs may add later stay readable, as unknown.
      const later: unknown = event.data.invoice.discount;
      return `${paid}${number}${String(later)}`;
    }
    case 'user.verified':
      return event.data.user.verified_at + (event.data.user.badges ?? []).join();
    default: {
      const other: EventType = event.type;
      const data: Record<string, unknown> = event.data;
      return other + Object.keys(data).join() + event.id + event.created_at;
    }
  }
}

// Building one (to test a receiver): a literal must have the docs' members.
export const example: MessageReceivedEvent = {
  id: 'evt_def456',
  type: 'message.received',
  created_at: '2024-01-15T14:30:00Z',
  data: {
    message: {
      id: 'msg_789',
      conversation_id: 'conv_123',
      content: 'Is this vehicle still available?',
      sender: { id: 'usr_456', name: 'John Smith' },
      listing: { id: 'lst_xyz', title: '2021 Volvo FH 500' },
      sent_at: '2024-01-15T14:30:00Z',
    },
  },
};
// @ts-expect-error the docs' subscription has a price {amount, currency}, not a number
export const wrongPrice: SubscriptionCreatedEvent['data']['subscription']['price'] = 149;
// @ts-expect-error test deliveries are marked by the X-Menon-Test header, not in the body
export const marked: WebhookEvent = { ...example, test: true };

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
