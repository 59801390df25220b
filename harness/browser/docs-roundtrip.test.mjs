// The docs' Node receiver, as written, against the real `menon-harness serve`, for random
// event data (PROTOCOL §3). The receiver parses the body and verifies
// `JSON.stringify(req.body)`, exactly like the docs' example; that only works if every
// body the server sends survives a JavaScript round trip. So the server must refuse, at
// publish, exactly the data that would not: member names that are array indexes ("0" …
// "4294967294"), numbers beyond ±(2^53 − 1).
//
// For N seeded random data objects (raw JSON text: big integers such as 9007199254740993
// are sent as written, not as a JavaScript number would print them), this checks:
//   - 202 ⇔ the data has no hazard, computed here independently of the server;
//   - on 202, the docs' verifyWebhook accepts the delivered body;
//   - on 400, the code is unsupported_member_name or number_out_of_range, a hazard of
//     that kind is in the data, and the message starts with the path of one of them.
//
// MENON_ROUNDTRIP_CASES (default 200) and MENON_ROUNDTRIP_SEED (default 20240115) change
// the run; a failure prints the seed and the case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BIN = process.env.MENON_HARNESS_BIN ?? path.join(ROOT, 'target/debug/menon-harness');
const CASES = Number(process.env.MENON_ROUNDTRIP_CASES ?? 200);
const SEED = Number(process.env.MENON_ROUNDTRIP_SEED ?? 20240115);
const SELLER = 'sel_roundtrip';
const MAX_ARRAY_INDEX = 4294967294;

// ---- The docs' Node example, verbatim in substance -------------------------------------

function verifyWebhook(payload, signature, secret) {
  const expectedSignature = crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');
  return `sha256=${expectedSignature}` === signature;
}

/**
 * The docs' handler on plain node:http: express is not a dependency of this package, so
 * `express.json()` is stood in for by what it does (collect the body, `JSON.parse` it
 * into `req.body`); the handler then hashes `JSON.stringify(req.body)` as the docs do.
 */
async function startDocsReceiver() {
  const state = { secret: null, deliveries: new Map() };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      // express.json()
      const raw = Buffer.concat(chunks).toString('utf8');
      req.body = JSON.parse(raw);
      // app.post('/webhooks/menon', (req, res) => { ... }) from the docs
      const signature = req.headers['x-menon-signature'];
      const payload = JSON.stringify(req.body);
      const verified = verifyWebhook(payload, signature, state.secret);
      const event = req.body;
      if (!state.deliveries.has(event.id)) {
        state.deliveries.set(event.id, { verified, raw, payload });
      }
      if (!verified) {
        res.statusCode = 401;
        res.end('Invalid signature');
        return;
      }
      res.statusCode = 200;
      res.end('OK');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, state, url: `http://127.0.0.1:${server.address().port}/webhooks/menon` };
}

// ---- The server under test --------------------------------------------------------------

/** `menon-harness serve` on a free loopback port, loopback targets allowed. */
async function startServer(dataDir) {
  const child = spawn(BIN, [
    'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--allow-target=loopback',
    // Far past a seller's default publish rate: every case publishes at once.
    '--publish-rate', '1000000', '--publish-burst', '1000000',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { value, done } = await lines.next();
  assert.ok(!done, `menon-harness serve printed nothing; stderr:\n${stderr}`);
  const url = value.match(/listening on (http:\/\/\S+)/)?.[1];
  assert.ok(url, value);
  return { child, url, logs: () => stderr };
}

function cli(...args) {
  return execFileSync(BIN, args).toString().trim();
}

async function call(base, bearer, method, pathname, text) {
  const response = await fetch(`${base}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(text ? { 'content-type': 'application/json' } : {}) },
    body: text,
  });
  return { status: response.status, body: await response.json() };
}

// ---- A seeded generator of raw JSON data, with its hazards computed here -----------------

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A JavaScript array index: what V8 moves first when it re-serializes an object. */
function isArrayIndex(name) {
  return /^(0|[1-9][0-9]*)$/.test(name) && Number(name) <= MAX_ARRAY_INDEX;
}

/** Whether a number, as written, is beyond ±(2^53 − 1) once parsed as a double. */
function isUnsafeNumber(text) {
  return Math.abs(Number(text)) > Number.MAX_SAFE_INTEGER;
}

/** One step of the server's error path: `.name` for identifiers, else `["name"]`. */
function step(name) {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) return `.${name}`;
  let out = '';
  for (const c of name) {
    const code = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `["${out}"]`;
}

const INDEX_NAMES = ['0', '9', '10', '2024', '4294967294', '1', '42'];
const SAFE_NAMES = [
  'id', 'listing_id', 'price', 'currency', 'status', 'title', 'items', 'a', 'b', 'Z', '$ref', '_x',
  '01', '00', '-1', '-0', '4294967295', '4294967296', '18446744073709551616', '1.0', '1e3', ' 1', '1 ', '0x10',
  'é', 'Ä', '日本', 'emoji 😀', '𝄞', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0001', '\u007f', '\u2028',
  '', '__proto__', 'constructor', 'toString', 'a.b', 'a[0]',
];
const STRINGS = ['', 'lst_123', '2020 Freightliner Cascadia', 'é', '😀', '\u0000', '</script>', 'a"\\b', '\u2028\u2029', '12345678901234567890'];
const SAFE_NUMBERS = [
  '0', '-0', '-0.0', '0e0', '1', '-1', '45000', '9007199254740991', '-9007199254740991', '9007199254740990',
  '4294967295', '0.1', '1.5', '-2.25', '1e3', '1E3', '2e-7', '-3.25e+10', '1e15', '9.007199e15', '1e-7', '1e-400',
  '5e-324', '123.456e-5', '0.000001',
];
const UNSAFE_NUMBERS = [
  '9007199254740992', '9007199254740993', '-9007199254740993', '-9007199254740992', '18446744073709551615',
  '18446744073709551616', '-18446744073709551617', '123456789012345678901234567890', '1e16', '-1e300',
  '9.1e15', '1.7976931348623157e308', '1e21',
];

/**
 * A random data object as raw JSON text and every hazard in it, each as
 * `{kind, path}` (kind = the code the server should answer).
 */
function generate(random, hazardRate) {
  const pick = (list) => list[Math.floor(random() * list.length)];
  const hazards = [];
  const number = (at) => {
    if (random() < hazardRate) {
      const text = pick(UNSAFE_NUMBERS);
      if (isUnsafeNumber(text)) hazards.push({ kind: 'number_out_of_range', path: at });
      return text;
    }
    if (random() < 0.5) {
      const text = pick(SAFE_NUMBERS);
      if (isUnsafeNumber(text)) hazards.push({ kind: 'number_out_of_range', path: at });
      return text;
    }
    // A random float or integer with at most 8 significant digits (far from 2^53, so
    // a double parser's last-bit rounding cannot decide the rule), sometimes with an exponent.
    const sign = random() < 0.3 ? '-' : '';
    const digits = String(Math.floor(random() * 1e8));
    let text;
    switch (Math.floor(random() * 4)) {
      case 0: text = `${sign}${digits}`; break;
      case 1: text = `${sign}${digits.slice(0, 1)}.${digits.slice(1) || '0'}`; break;
      case 2: text = `${sign}${digits}e${Math.floor(random() * 30) - 15}`; break;
      default: text = `${sign}${digits.slice(0, 1)}.${digits.slice(1) || '5'}E+${Math.floor(random() * 20)}`;
    }
    if (isUnsafeNumber(text)) hazards.push({ kind: 'number_out_of_range', path: at });
    return text;
  };
  const value = (at, depth) => {
    const r = random();
    if (depth < 4 && r < 0.18) return object(at, depth + 1);
    if (depth < 4 && r < 0.3) {
      const n = Math.floor(random() * 4);
      const items = [];
      for (let i = 0; i < n; i++) items.push(value(`${at}[${i}]`, depth + 1));
      return `[${items.join(',')}]`;
    }
    if (r < 0.6) return number(at);
    if (r < 0.8) return JSON.stringify(pick(STRINGS));
    return pick(['true', 'false', 'null']);
  };
  const object = (at, depth) => {
    const n = Math.floor(random() * (depth === 0 ? 6 : 4));
    const names = new Set();
    while (names.size < n) {
      names.add(random() < hazardRate ? pick(INDEX_NAMES) : pick(SAFE_NAMES));
    }
    const members = [];
    for (const name of names) {
      const here = `${at}${step(name)}`;
      if (isArrayIndex(name)) hazards.push({ kind: 'unsupported_member_name', path: here });
      // Some whitespace, as a sender's JSON may have.
      const gap = random() < 0.2 ? ' ' : '';
      members.push(`${JSON.stringify(name)}:${gap}${value(here, depth)}`);
    }
    return `{${members.join(',')}}`;
  };
  const text = object('data', 0);
  return { text, hazards };
}

// ---- The test ----------------------------------------------------------------------------

test(`the docs' Node receiver verifies every delivery the server accepts (${CASES} random data objects, seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build -p menon-harness (test.sh does this)`);
  assert.ok(Number.isInteger(CASES) && CASES > 0, 'MENON_ROUNDTRIP_CASES must be a positive integer');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'menon-roundtrip-'));
  const server = await startServer(dataDir);
  const receiver = await startDocsReceiver();
  t.after(() => {
    receiver.server.close();
    server.child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const token = cli('token', '--seller', SELLER, '--data-dir', dataDir);
  const key = cli('api-key', 'create', '--seller', SELLER, '--data-dir', dataDir);
  const created = await call(server.url, token, 'POST', '/api/seller/webhooks',
    JSON.stringify({ url: receiver.url, events: ['listing.created'] }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  receiver.state.secret = created.body.data.webhook.secret;

  const random = prng(SEED);
  const rates = [0, 0.04, 0.15];
  const accepted = [];
  const counts = { accepted: 0, unsupported_member_name: 0, number_out_of_range: 0 };
  for (let i = 0; i < CASES; i++) {
    const { text, hazards } = generate(random, rates[i % rates.length]);
    const context = `case ${i} (seed ${SEED}): data ${text}`;
    // Both families, alternately; the body is raw text, as a sender would write it.
    const [route, bearer] = i % 2 === 0 ? ['/v1/events', key] : ['/api/seller/events', token];
    const answer = await call(server.url, bearer, 'POST', route, `{"type":"listing.created","data":${text}}`);
    if (hazards.length === 0) {
      assert.equal(answer.status, 202, `${context}: data without a hazard was refused: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.data.deliveries_queued, 1, context);
      accepted.push({ id: answer.body.data.event.id, context });
      counts.accepted++;
    } else {
      assert.equal(answer.status, 400, `${context}: data with hazards ${JSON.stringify(hazards)} was accepted`);
      const { code, message } = answer.body.error;
      assert.ok(code === 'unsupported_member_name' || code === 'number_out_of_range', `${context}: code ${code}`);
      const paths = hazards.filter((h) => h.kind === code).map((h) => h.path);
      assert.ok(paths.length > 0, `${context}: ${code}, but the data has no such hazard (${JSON.stringify(hazards)})`);
      assert.ok(paths.some((p) => message.startsWith(`${p}: `)),
        `${context}: message ${JSON.stringify(message)} names none of ${JSON.stringify(paths)}`);
      counts[code]++;
    }
  }
  // Each outcome happened, so that the run tested something on every side.
  if (CASES >= 50) {
    for (const [outcome, n] of Object.entries(counts)) assert.ok(n > 0, `no case ended ${outcome}: ${JSON.stringify(counts)}`);
  }

  // Every accepted event reaches the docs' receiver, which verifies it. Polled, with a
  // generous deadline for a loaded machine.
  const deadline = Date.now() + 60_000 + accepted.length * 200;
  while (accepted.some(({ id }) => !receiver.state.deliveries.has(id)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const { id, context } of accepted) {
    const delivery = receiver.state.deliveries.get(id);
    assert.ok(delivery, `${context}: event ${id} was never delivered; server log:\n${server.logs()}`);
    assert.ok(delivery.verified,
      `${context}: the docs' verifyWebhook refused a genuine delivery:\nsent      ${delivery.raw}\nrehashed  ${delivery.payload}`);
    assert.equal(delivery.payload, delivery.raw, context);
  }
  // Only accepted events were delivered.
  assert.equal(receiver.state.deliveries.size, accepted.length);
  t.diagnostic(`outcomes: ${JSON.stringify(counts)}`);
});
