// A Menon webhook receiver on Express 5 and @menon/webhooks.
//
//   MENON_WEBHOOK_SECRET=whsec_... PORT=3000 npm start
//
// POST /webhooks/menon             verify, deduplicate, answer 200, then do the work
// GET  /webhooks/menon/processed   test hook: how often each event's work ran
import express from 'express';
import { EVENT_TYPES, expressMiddleware } from '@menon/webhooks';

const secret = process.env.MENON_WEBHOOK_SECRET;
if (!secret) {
  console.error(
    'error: MENON_WEBHOOK_SECRET is not set: export the signing secret (whsec_...) that Menon ' +
      'returned when the webhook was created',
  );
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3000);
const KNOWN_TYPES = new Set(EVENT_TYPES);

// Event ids already accepted, and how often each one's work ran (the test hook's answer).
// In memory for the example. In production keep them in your database, with the event id
// as a primary key: `INSERT ... ON CONFLICT DO NOTHING` tells you whether you are first,
// and survives restarts and several instances.
const accepted = new Set();
const processed = new Map();
const inFlight = new Set(); // background work not finished yet, awaited on shutdown

const app = express();

// The middleware reads the RAW body and verifies it (X-Menon-Signature-V2 with its 300 s
// replay window when present, else X-Menon-Signature). Do not put express.json() in front
// of it: its 100 kB limit refuses big events, and verifying needs the bytes as sent.
// A refused delivery is answered 401 {"success": false, "error": {"code", "message"}}.
const verifyMenon = expressMiddleware(secret, { limit: 2 * 1024 * 1024 });

app.post('/webhooks/menon', verifyMenon, (req, res) => {
  const event = req.menonEvent; // verified and parsed
  if (typeof event?.id !== 'string' || typeof event.type !== 'string') {
    return res.status(400).json({ error: { code: 'invalid_envelope', message: 'no id or type' } });
  }

  // Acknowledge what you do not handle: new event types can appear at any time, and a
  // non-2xx answer only makes Menon retry (and in the end disable the webhook).
  // Test deliveries (the dashboard's Send Test) carry the header `X-Menon-Test: true`.
  if (req.get('x-menon-test') === 'true') {
    console.log(`test event ${event.id} (${event.type}) received`);
    return res.status(200).json({ received: true });
  }
  if (!KNOWN_TYPES.has(event.type)) {
    console.log(`ignoring event ${event.id} of unknown type ${event.type}`);
    return res.status(200).json({ received: true });
  }

  // Deliveries are at-least-once, and copies can arrive at the same moment. Check and
  // record the id in one step, before answering: this handler runs to completion on the
  // one JavaScript thread, so no other request can slip in between `has` and `add`.
  if (accepted.has(event.id)) {
    console.log(`duplicate of ${event.id} acknowledged, not processed again`);
    return res.status(200).json({ received: true, duplicate: true });
  }
  accepted.add(event.id);

  // Answer now, work afterwards: Menon waits at most 10 s, and a slow answer is a failed
  // attempt that will be sent again.
  res.status(200).json({ received: true });
  const work = handle(event).catch((err) => console.error(`event ${event.id} failed:`, err));
  inFlight.add(work);
  work.finally(() => inFlight.delete(work));
});

// Test hook for `menon-harness grade --probe /webhooks/menon/processed`: proves each event
// was processed exactly once. Leave it out of a real deployment.
app.get('/webhooks/menon/processed', (_req, res) => {
  res.json({ processed: Object.fromEntries(processed) });
});

/** The slow part: whatever your application does with an event. */
async function handle(event) {
  await new Promise((resolve) => setTimeout(resolve, 200)); // stands in for real work
  const [group] = event.type.split('.');
  const action =
    {
      listing: 'refresh the search index',
      message: 'notify the seller',
      conversation: 'notify the seller',
      inquiry: 'update the lead in the CRM',
      subscription: 'update the plan',
      payment: 'update the books',
      invoice: 'update the books',
      user: 'sync the account',
    }[group] ?? 'log it';
  console.log(`${event.type} ${event.id}: ${action}`);
  processed.set(event.id, (processed.get(event.id) ?? 0) + 1);
}

const server = app.listen(port, '127.0.0.1', (err) => {
  if (err) {
    console.error(`error: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening on http://127.0.0.1:${port}/webhooks/menon`);
});

// On SIGTERM (a deploy, or the grader stopping us): stop accepting, finish what was
// acknowledged, then exit.
process.on('SIGTERM', () => {
  server.close(async () => {
    await Promise.allSettled(inFlight);
    process.exit(0);
  });
});
