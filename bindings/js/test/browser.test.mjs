// The WebAssembly build in a real browser: headless Chromium (Debian's, driven by
// playwright-core) loads the package's `browser` entry from a page served on loopback
// and runs every shared vector there. (Playwright gives it a fresh temporary profile.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';
import { PACKAGE, FIXTURES, SIG, CANON } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REPO = join(PACKAGE, '..', '..');
const SERVED = [join(PACKAGE, 'src'), join(PACKAGE, 'dist'), join(PACKAGE, 'test', 'browser'), join(FIXTURES, 'vectors')];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** A static server for the few folders the page needs, on an ephemeral loopback port. */
async function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(join(REPO, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (req.method !== 'GET' || !SERVED.some((dir) => path.startsWith(dir + sep))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

test('the browser entry verifies every shared vector in headless Chromium', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (test.sh does this as root)`);
  const { server, origin } = await serve();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/bindings/js/test/browser/index.html`);
  await page.waitForFunction(() => window.menonResult !== undefined, null, { timeout: 60_000 });
  const result = await page.evaluate(() => window.menonResult);
  assert.deepEqual(errors, []);
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.backend, 'wasm');
  assert.match(result.userAgent, /Chrome\//);
  assert.deepEqual(result.counts, { sign: SIG.sign.length, verify: SIG.verify.length, deliveries: SIG.deliveries.length, canonicalize: CANON.cases.length });
  assert.deepEqual(result.failures, []);
  const status = await page.textContent('#status');
  assert.match(status, /0 failures$/);
  if (process.env.MENON_SCREENSHOTS) await page.screenshot({ path: join(process.env.MENON_SCREENSHOTS, 'browser-vectors.png') });
});
