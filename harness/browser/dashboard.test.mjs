// The seller dashboard in a real browser: Debian's headless Chromium, driven by
// playwright-core (which never downloads a browser), against the real `menon-harness serve`
// and a real receiver on loopback that checks every signature with the secret the test
// copied from the page. The flow is the docs' two flows by hand, plus what goes wrong:
//
//   sign in with the link `serve --dev-sign-in` prints → empty list → Add Webhook (refused
//   first, then saved) → copy the secret (clipboard) → Send Test: delivered → break the
//   receiver → Send Test: failed → logs, filtered → fix it → Retry → delivered → rotate
//   the secret, reload → the list → a phone-sized screen → a form posted from another
//   origin is refused → the server's log (at info) holds no secret and no sign-in token.
//
// Screenshots go to <target>/screenshots/, or with MENON_UPDATE_SCREENSHOTS=1 to
// docs/screenshots/ (committed; harness/README.md shows two).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BIN = process.env.MENON_HARNESS_BIN ?? path.join(ROOT, 'target/debug/menon-harness');
// The committed copies are rewritten only on request (MENON_UPDATE_SCREENSHOTS=1), so a
// test run leaves the work tree clean; otherwise they go to <target>/screenshots.
const SHOTS = process.env.MENON_UPDATE_SCREENSHOTS === '1'
  ? path.join(ROOT, 'docs/screenshots')
  : path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'screenshots');

/** `menon-harness serve --dev-sign-in` on a free port: its URL, sign-in link and log. */
async function startServer(dataDir) {
  // Logging at info, as a server runs by default, so that "nothing secret in the log"
  // is checked against the request log too.
  const child = spawn(BIN, [
    'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--allow-target=loopback', '--dev-sign-in',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'info' } });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    assert.ok(!done, `menon-harness serve printed nothing; stderr:\n${stderr}`);
    return value;
  };
  const first = await next();
  const url = first.match(/listening on (http:\/\/\S+)/)?.[1];
  assert.ok(url, first);
  const second = await next();
  assert.match(second, /development only/);
  const link = second.split(' ').at(-1);
  assert.ok(link.startsWith(`${url}/dashboard/sign-in?token=`), second);
  return { child, url, link, logs: () => stderr };
}

/** A receiver that answers 200, or 500 once "broken", and checks each v1 signature. */
async function startReceiver() {
  const state = { broken: false, secret: null, received: [], bodies: [] };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/elsewhere') {
        // A page of another origin that posts a form to the dashboard (CSRF).
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>
          <form id="f" method="post" action="${state.dashboard}/dashboard/webhooks">
            <input name="url" value="http://127.0.0.1:1/evil"><input name="events" value="listing.created">
            <input name="csrf" value="guessed">
          </form><script>document.getElementById('f').submit()</script>`);
        return;
      }
      const body = Buffer.concat(chunks);
      const signature = String(req.headers['x-menon-signature'] ?? '');
      let valid = false;
      if (state.secret && signature.startsWith('sha256=')) {
        const expected = createHmac('sha256', state.secret).update(body).digest();
        const given = Buffer.from(signature.slice(7), 'hex');
        valid = given.length === expected.length && timingSafeEqual(given, expected);
      }
      const event = JSON.parse(body.toString('utf8'));
      state.received.push({ type: event.type, id: event.id, test: req.headers['x-menon-test'] === 'true', valid });
      state.bodies.push(body.toString('utf8'));
      if (state.broken) {
        res.writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'database unavailable, try again later' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ received: true, id: event.id }));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, state, url: `http://127.0.0.1:${server.address().port}` };
}

/** A seller JWT from `menon-harness token`, for setting up through the API. */
function sellerToken(dataDir, seller) {
  return execFileSync(BIN, ['token', '--seller', seller, '--data-dir', dataDir]).toString().trim();
}

async function api(base, token, method, pathname, body) {
  const response = await fetch(`${base}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  assert.ok(response.ok, JSON.stringify(json));
  return json.data;
}

test('a seller adds a webhook, copies its secret, tests it, and retries a failed delivery', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (test.sh does this as root)`);
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build -p menon-harness (test.sh does this)`);
  mkdirSync(SHOTS, { recursive: true });
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'menon-dashboard-'));
  const server = await startServer(dataDir);
  const receiver = await startReceiver();
  receiver.state.dashboard = server.url;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await browser.close();
    receiver.server.close();
    server.child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Pages answered 400 or 403 on purpose are logged by Chromium as failed loads: not errors.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of (400|403)/.test(m.text())) errors.push(m.text());
  });
  const shot = (name, options = {}) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), ...options });

  await t.test('the printed link signs in, and the empty list says what to do', async () => {
    await page.goto(server.link);
    assert.equal(new URL(page.url()).pathname, '/dashboard');
    assert.ok(!page.url().includes('token='), 'the token left the address bar');
    await page.getByTestId('empty-webhooks').getByText('No webhooks yet').waitFor();
    assert.equal(await page.locator('.seller').innerText(), 'sel_demo');
  });

  await t.test('Add Webhook refuses a bad URL and no events, next to the fields', async () => {
    await page.getByTestId('add-webhook').click();
    await page.locator('#url').fill('ftp://files.example.com/hook');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    assert.match(await page.getByTestId('url-error').innerText(), /scheme "ftp" is not supported/);
    assert.equal(await page.getByTestId('events-error').innerText(), 'Pick at least one event.');
    assert.equal(await page.locator('#url').inputValue(), 'ftp://files.example.com/hook');
  });

  let secret;
  await t.test('the group box selects a whole group; saving shows the secret once, copied', async () => {
    await page.locator('#url').fill(`${receiver.url}/webhooks/menon`);
    await page.locator('input[data-group-toggle="listing"]').check();
    const listing = page.locator('input[data-group="listing"]');
    assert.equal(await listing.count(), 6);
    for (const box of await listing.all()) assert.ok(await box.isChecked());
    await page.locator('input[value="payment.succeeded"]').check();
    await page.locator('input[value="payment.failed"]').check();
    const payment = page.locator('input[data-group-toggle="payment"]');
    assert.equal(await payment.evaluate((el) => el.indeterminate), true, 'a partly chosen group shows as such');
    assert.equal(await page.locator('[data-group-count="payment"]').innerText(), '2/4');
    await shot('dashboard-add-webhook', { fullPage: true });
    await page.getByRole('button', { name: 'Add webhook' }).click();

    await page.getByTestId('secret-warning').getByText('It will not be shown again').waitFor();
    secret = await page.getByTestId('secret').inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
    // The address bar shows the webhook's page, not the form's POST target.
    assert.match(new URL(page.url()).pathname, /^\/dashboard\/webhooks\/wh_[A-Za-z0-9_-]+$/);
    await page.getByTestId('copy-secret').click();
    await page.getByTestId('copy-secret').getByText('Copied').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, secret);
    receiver.state.secret = copied;
    await page.getByTestId('done').click();
    await page.getByTestId('empty-logs').getByText('No deliveries yet').waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
  });

  await t.test('Send Test: pick an event type, see code, time, payload and response', async () => {
    await page.getByTestId('send-test').click();
    await page.getByTestId('event-type').selectOption('payment.succeeded');
    await page.getByTestId('send').click();
    await page.getByTestId('test-result').waitFor();
    assert.equal(await page.getByTestId('result-status').innerText(), 'Delivered');
    assert.equal(await page.getByTestId('result-code').innerText(), '200');
    assert.match(await page.getByTestId('result-time').innerText(), /^\d+ ms$/);
    const payload = JSON.parse(await page.getByTestId('payload').innerText());
    assert.equal(payload.type, 'payment.succeeded');
    assert.deepEqual(Object.keys(payload), ['created_at', 'data', 'id', 'type'], 'the docs\' four members, no test marker in the body');
    const response = JSON.parse(await page.getByTestId('response-body').innerText());
    assert.deepEqual(response, { received: true, id: payload.id });
    assert.equal(new URL(page.url()).pathname.endsWith('/test'), true);
    const got = receiver.state.received.at(-1);
    assert.deepEqual(got, { type: 'payment.succeeded', id: payload.id, test: true, valid: true },
      'the receiver checked the signature with the copied secret');
    // The payload is shown, and copied, byte for byte as signed: a copy verifies.
    const sent = receiver.state.bodies.at(-1);
    assert.equal(await page.getByTestId('payload').textContent(), sent);
    await page.getByTestId('copy-payload').click();
    await page.getByTestId('copy-payload').getByText('Copied').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), sent);
    await shot('dashboard-send-test', { fullPage: true });
  });

  await t.test('a broken receiver: the failure is shown, with the body it answered', async () => {
    receiver.state.broken = true;
    await page.getByTestId('event-type').selectOption('listing.created');
    await page.getByTestId('send').click();
    await page.getByTestId('result-status').getByText('Failed').waitFor();
    assert.equal(await page.getByTestId('result-code').innerText(), '500');
    assert.match(await page.getByTestId('result-error').innerText(), /^Internal Server Error/);
    assert.match(await page.getByTestId('response-body').innerText(), /database unavailable/);
  });

  await t.test('the logs, filtered; Retry after the receiver is fixed gets it delivered', async () => {
    await page.getByRole('link', { name: 'delivery logs' }).click();
    const rows = page.getByTestId('logs').locator('tbody tr');
    assert.equal(await rows.count(), 2);
    await page.locator('#filter-status').selectOption('failed');
    await page.waitForURL(/status=failed/);
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getByTestId('log-code').innerText(), '500');
    receiver.state.broken = false;
    await rows.first().getByTestId('retry').click();
    await page.getByTestId('notice').getByText('Retry delivered').waitFor();
    const fresh = page.getByTestId('highlighted');
    assert.match(await fresh.innerText(), /Delivered/);
    assert.equal(await fresh.getByTestId('log-code').innerText(), '200');
    assert.equal(await rows.count(), 3, 'the retry is a new attempt at the top');
    const [failed, retried] = receiver.state.received.slice(-2);
    assert.equal(retried.id, failed.id, 'a retry sends the same event');
    assert.ok(receiver.state.received.every((r) => r.valid));
    await shot('dashboard-logs', { fullPage: true });
  });

  let rotated;
  await t.test('Rotate shows the new secret once; reloading does not rotate again', async () => {
    await page.getByTestId('rotate').click();
    await page.getByTestId('secret-warning').waitFor();
    rotated = await page.getByTestId('secret').inputValue();
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    assert.match(new URL(page.url()).pathname, /^\/dashboard\/webhooks\/wh_[A-Za-z0-9_-]+$/);
    await page.reload();
    await page.getByTestId('webhook-url').waitFor();
    assert.equal(await page.getByTestId('secret').count(), 0, 'the reload posted again');
    // The secret shown is still the one that signs: the reload did not rotate it away.
    receiver.state.secret = rotated;
    await page.getByTestId('send-test').click();
    await page.getByTestId('send').click();
    await page.getByTestId('result-status').getByText('Delivered').waitFor();
    assert.equal(receiver.state.received.at(-1).valid, true, 'signed with the secret shown');
  });

  await t.test('the list shows status, URL, event count and the last delivery', async () => {
    // Two more webhooks through the API, one disabled, for a list worth looking at.
    const token = sellerToken(dataDir, 'sel_demo');
    await api(server.url, token, 'POST', '/api/seller/webhooks',
      { url: 'https://crm.example.com/hooks/menon', events: ['inquiry.created', 'inquiry.responded', 'message.received'] });
    const billing = await api(server.url, token, 'POST', '/api/seller/webhooks',
      { url: 'https://billing.example.com/menon/events', events: ['invoice.created', 'invoice.paid', 'payment.failed'] });
    await api(server.url, token, 'PATCH', `/api/seller/webhooks/${billing.webhook.id}`, { status: 'disabled' });
    await page.locator('.brand').click();
    const rows = page.getByTestId('webhook-list').locator('tbody tr');
    assert.equal(await rows.count(), 3);
    const ours = rows.filter({ hasText: receiver.url });
    assert.match(await ours.innerText(), /Active/);
    assert.equal(await ours.getByTestId('event-count').innerText(), '8');
    assert.match(await ours.getByTestId('last-delivery').innerText(), /Delivered\s+200/);
    assert.match(await rows.filter({ hasText: 'billing.example.com' }).innerText(), /Disabled/);
    assert.match(await page.getByTestId('pager').innerText(), /Showing 1–3 of 3/);
    await shot('dashboard-webhooks');
  });

  await t.test('on a phone the pages fit the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const where of ['/dashboard', new URL(page.url()).pathname]) {
      await page.goto(`${server.url}${where}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${where} scrolls sideways by ${overflow}px`);
    }
    await page.goto(`${server.url}/dashboard`);
    await shot('dashboard-mobile', { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await t.test('a form posted from another origin is refused', async () => {
    const before = (await page.getByTestId('webhook-list').locator('tbody tr').count());
    await page.goto(`${receiver.url}/elsewhere`);
    await page.waitForURL(`${server.url}/dashboard/webhooks`);
    const refusal = page.getByTestId('error');
    assert.match(await refusal.innerText(), /Request refused[\s\S]*sent from another site/);
    await page.goto(`${server.url}/dashboard`);
    assert.equal(await page.getByTestId('webhook-list').locator('tbody tr').count(), before);
  });

  assert.deepEqual(errors, [], 'no script errors on any page');
  // The log is the request log at info (so this check can fail): nothing secret in it.
  const logs = server.logs();
  assert.match(logs, /finished processing request/, 'no request log at info');
  assert.match(logs, /dashboard session started/);
  assert.ok(!logs.includes(secret), 'the secret was logged');
  assert.ok(!logs.includes(rotated), 'the rotated secret was logged');
  const linkToken = new URL(server.link).searchParams.get('token');
  assert.ok(linkToken && !logs.includes(linkToken), 'the sign-in token was logged');
  t.diagnostic(`browser flow took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
