// The package as npm publishes it: the tarballs of pack.sh (`npm pack` of @menon/webhooks
// and of the platform package this machine builds, @menon/webhooks-linux-x64-gnu here),
// installed into an empty folder with `npm install ./*.tgz` (offline: nothing but the
// tarballs). The docs' receiver runs against them on the native addon of the platform
// package, then on WebAssembly once that package is gone; publint and
// @arethetypeswrong/cli find nothing in them; and the platform packages in npm/ agree with
// the main package and with the CI workflow that builds the ones this machine cannot.
//
// test.sh packs before the tests run (MENON_JS_PACKED: the folder; `npm pack` there runs
// the prepack build); run alone, this file packs what build.sh built (pack.sh --no-build).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, PACKAGE, SECRET } from './helpers.mjs';

const MAIN = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8'));
const PLATFORMS = readdirSync(join(PACKAGE, 'npm'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/** The platform package name of this machine, as the loader (src/node-backends.js) names it. */
const glibc = Boolean(process.report.getReport().header.glibcVersionRuntime);
const PLATFORM =
  process.platform === 'linux'
    ? `linux-${process.arch}-${glibc ? 'gnu' : 'musl'}`
    : process.platform === 'win32'
      ? `win32-${process.arch}-msvc`
      : `${process.platform}-${process.arch}`;
const NATIVE = `@menon/webhooks-${PLATFORM}`;

// An environment without npm's own variables (when test.sh runs under `npm test`) or a
// backend forced by the caller.
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'MENON_WEBHOOKS_BACKEND'),
);

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', timeout: 120_000 });
  const out = `${cmd} ${args.join(' ')} (in ${cwd}): exit ${r.status}\n${r.stdout}\n${r.stderr}`;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out };
}

const temps = [];
function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `menon-webhooks-${name}-`));
  temps.push(dir);
  return dir;
}
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

let packed = process.env.MENON_JS_PACKED;
if (!packed) {
  packed = tempDir('packed');
  const r = run(join(PACKAGE, 'pack.sh'), ['--no-build', packed], PACKAGE);
  if (r.status !== 0) throw new Error(r.out);
}
const TARBALL = {
  main: join(packed, `menon-webhooks-${MAIN.version}.tgz`),
  native: join(packed, `menon-webhooks-${PLATFORM}-${MAIN.version}.tgz`),
};

/** The tarballs copied into a new empty folder, installed with `npm install ./*.tgz`. */
function install(name, tarballs) {
  const dir = tempDir(name);
  for (const t of tarballs) copyFileSync(t, join(dir, t.slice(packed.length + 1)));
  const r = run('sh', ['-c', 'npm install --prefix . --offline --no-audit --no-fund --loglevel=error ./*.tgz'], dir);
  assert.equal(r.status, 0, r.out);
  return dir;
}

// The docs' receiver (test/docs-example.test.mjs, and the README's Express and Workers
// examples) as a user's file next to the installed package: every fixture event, signed
// with `sign`, goes to the docs' own `verifyWebhook` (with this package's drop-in
// `verifySignature` and `verify(req.body)` beside it), to `expressMiddleware` and to a
// Workers `fetch` handler; then one body changed after signing goes to each. Prints what it
// saw, the backend, and the native addons the process loaded.
const EXAMPLE = `
const SECRET = ${JSON.stringify(SECRET)};
const DIR = process.argv[2];
const EVENTS = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort().map((f) => readFileSync(DIR + '/' + f, 'utf8'));

// The docs' own check ("Verify in Node.js"): HMAC-SHA256 over the re-serialized body.
function verifyWebhook(payload, signature, secret) {
  const expectedSignature = crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');
  return \`sha256=\${expectedSignature}\` === signature;
}

// README, Express: the middleware on the route (Express or plain node:http).
const menon = expressMiddleware(SECRET);

// README, Cloudflare Workers.
const worker = {
  async fetch(request, env) {
    try {
      const event = await verifyRequest(request, env.MENON_WEBHOOK_SECRET);
      return new Response(null, { status: 204, headers: { 'x-event-type': event.type } });
    } catch (err) {
      if (err instanceof WebhookVerificationError) return Response.json({ error: err.code }, { status: err.status });
      throw err;
    }
  },
};

const server = http.createServer((req, res) => {
  if (req.url === '/express') {
    return menon(req, res, () => res.writeHead(204, { 'x-event-type': req.menonEvent.type }).end());
  }
  // The docs' receiver: express.json(), then verifyWebhook(JSON.stringify(req.body), ...).
  const chunks = [];
  req.on('data', (c) => chunks.push(c)).on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const payload = JSON.stringify(body);
    const signature = req.headers['x-menon-signature'];
    let event;
    try {
      event = verify(body, req.headers, SECRET).type;
    } catch (e) {
      event = e.code;
    }
    const seen = { docs: verifyWebhook(payload, signature, SECRET), ours: verifySignature(payload, signature, SECRET), event };
    res.writeHead(seen.docs ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
  });
});

async function deliver(url, text, headers) {
  const post = (path) => fetch(url + path, { method: 'POST', body: text, headers });
  const docs = await post('/docs');
  const express = await post('/express');
  const workers = await worker.fetch(new Request(url + '/workers', { method: 'POST', body: text, headers }), { MENON_WEBHOOK_SECRET: SECRET });
  return {
    docs: [docs.status, await docs.json()],
    express: [express.status, express.status === 204 ? express.headers.get('x-event-type') : (await express.json()).error.code],
    workers: [workers.status, workers.status === 204 ? workers.headers.get('x-event-type') : (await workers.json()).error],
  };
}

async function main() {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = 'http://127.0.0.1:' + server.address().port;
  const accepted = { docs: 0, express: 0, workers: 0 };
  try {
    for (const text of EVENTS) {
      const { type } = JSON.parse(text);
      const got = await deliver(url, text, sign(text, SECRET));
      if (JSON.stringify(got.docs) === JSON.stringify([200, { docs: true, ours: true, event: type }])) accepted.docs++;
      if (JSON.stringify(got.express) === JSON.stringify([204, type])) accepted.express++;
      if (JSON.stringify(got.workers) === JSON.stringify([204, type])) accepted.workers++;
    }
    const changed = EVENTS[0].replace('"data":{', '"data":{"injected":true,');
    const refused = await deliver(url, changed, sign(EVENTS[0], SECRET));
    const addons = process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node'));
    console.log(JSON.stringify({ backend, addons, events: EVENTS.length, accepted, refused }));
  } finally {
    server.close();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;
const EXPORTS = 'backend, expressMiddleware, sign, verify, verifyRequest, verifySignature, WebhookVerificationError';
const EXAMPLE_ESM = `import crypto from 'node:crypto';
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { ${EXPORTS} } from '@menon/webhooks';
${EXAMPLE}`;
const EXAMPLE_CJS = `const crypto = require('node:crypto');
const http = require('node:http');
const { readFileSync, readdirSync } = require('node:fs');
const { ${EXPORTS} } = require('@menon/webhooks');
${EXAMPLE}`;

const EVENTS = readdirSync(join(FIXTURES, 'events')).filter((f) => f.endsWith('.json'));

/** Runs the docs' example in `dir` as ESM and as CommonJS; asserts its outcome. */
function runExample(dir, backend, addons) {
  writeFileSync(join(dir, 'example.mjs'), EXAMPLE_ESM);
  writeFileSync(join(dir, 'example.cjs'), EXAMPLE_CJS);
  for (const file of ['example.mjs', 'example.cjs']) {
    const r = run(process.execPath, [file, join(FIXTURES, 'events')], dir);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.stderr, '', r.out);
    const n = EVENTS.length;
    assert.deepEqual(
      JSON.parse(r.stdout),
      {
        backend,
        addons,
        events: n,
        accepted: { docs: n, express: n, workers: n },
        refused: {
          docs: [401, { docs: false, ours: false, event: 'signature_mismatch' }],
          express: [401, 'signature_mismatch'],
          workers: [401, 'signature_mismatch'],
        },
      },
      `${file} in ${dir}`,
    );
  }
}

/** The Rust target an os/cpu/libc triple of a platform package means. */
function rustTarget({ os: [os], cpu: [cpu], libc }) {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[cpu];
  if (os === 'linux') return `${arch}-unknown-linux-${libc[0] === 'glibc' ? 'gnu' : 'musl'}`;
  if (os === 'darwin') return `${arch}-apple-darwin`;
  if (os === 'win32') return `${arch}-pc-windows-msvc`;
  throw new Error(`no Rust target for ${os}`);
}

test('platform packages: one per optionalDependency, at the main version, os/cpu/libc/main by their name, each a job of .github/workflows/npm.yml', () => {
  assert.deepEqual(PLATFORMS, ['darwin-arm64', 'linux-arm64-gnu', 'linux-x64-gnu', 'linux-x64-musl', 'win32-x64-msvc']);
  assert.deepEqual(
    MAIN.optionalDependencies,
    Object.fromEntries(PLATFORMS.map((p) => [`@menon/webhooks-${p}`, MAIN.version])),
  );
  assert.ok(!MAIN.files.some((f) => f.startsWith('native')), 'the main package carries no addon');
  const workflow = readFileSync(join(PACKAGE, '..', '..', '.github', 'workflows', 'npm.yml'), 'utf8');
  const jobs = Object.fromEntries(
    [...workflow.matchAll(/- platform: (\S+)\n\s+runner: (\S+)\n(?:\s+container: (\S+)\n)?\s+rust-target: (\S+)/g)].map(
      ([, platform, runner, container, target]) => [platform, { runner, container, target }],
    ),
  );
  assert.deepEqual(Object.keys(jobs).sort(), PLATFORMS, 'the workflow builds every platform package, and no other');
  for (const platform of PLATFORMS) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE, 'npm', platform, 'package.json'), 'utf8'));
    const [os, cpu, abi] = platform.split('-');
    const file = `menon-webhooks.${platform}.node`;
    assert.equal(pkg.name, `@menon/webhooks-${platform}`);
    assert.equal(pkg.version, MAIN.version, `${pkg.name} is at the main package's version`);
    assert.deepEqual(pkg.os, [os], pkg.name);
    assert.deepEqual(pkg.cpu, [cpu], pkg.name);
    assert.deepEqual(pkg.libc, os === 'linux' ? [{ gnu: 'glibc', musl: 'musl' }[abi]] : undefined, pkg.name);
    assert.equal(pkg.main, `./${file}`, pkg.name);
    assert.deepEqual(pkg.files, [file], pkg.name);
    assert.equal(pkg.license, MAIN.license, pkg.name);
    assert.deepEqual(pkg.engines, MAIN.engines, pkg.name);
    assert.deepEqual(pkg.repository, { ...MAIN.repository, directory: `bindings/js/npm/${platform}` }, pkg.name);
    assert.equal(jobs[platform].target, rustTarget(pkg), `the job of ${platform} builds for its Rust target`);
    assert.equal(Boolean(jobs[platform].container?.includes('alpine')), abi === 'musl', `musl is built on Alpine: ${platform}`);
  }
});

test(`the tarballs: @menon/webhooks carries no addon, ${NATIVE} only its own`, () => {
  const list = (t) => run('tar', ['tzf', t], packed).stdout.trim().split('\n').sort();
  const main = list(TARBALL.main);
  assert.deepEqual(main.filter((f) => f.endsWith('.node')), []);
  for (const f of ['package/package.json', 'package/index.d.ts', 'package/dist/index.d.cts', 'package/dist/node.cjs',
    'package/src/node.js', 'package/dist/wasm/menon_webhooks_wasm_bg.wasm']) {
    assert.ok(main.includes(f), `${f} in ${main.join(' ')}`);
  }
  assert.deepEqual(list(TARBALL.native), ['package/README.md', `package/menon-webhooks.${PLATFORM}.node`, 'package/package.json']);
  const packedMain = JSON.parse(run('tar', ['xzOf', TARBALL.main, 'package/package.json'], packed).stdout);
  assert.deepEqual(packedMain.optionalDependencies, MAIN.optionalDependencies);
});

test(`publint --strict: the packed @menon/webhooks and ${NATIVE} are clean`, () => {
  for (const t of [TARBALL.main, TARBALL.native]) {
    const r = run(join(PACKAGE, 'node_modules', '.bin', 'publint'), ['--strict', t], PACKAGE);
    assert.equal(r.status, 0, r.out);
    assert.match(r.stdout, /All good!/, r.out);
    assert.doesNotMatch(r.stdout, /Errors|Warnings|Suggestions/, r.out);
  }
});

test('@arethetypeswrong/cli: the packed @menon/webhooks has no problem in node10, node16 (CJS, ESM) or bundler resolution', () => {
  const r = run(join(PACKAGE, 'node_modules', '.bin', 'attw'), [TARBALL.main, '--format', 'json'], PACKAGE);
  assert.equal(r.status, 0, r.out);
  const { analysis } = JSON.parse(r.stdout);
  assert.deepEqual(analysis.problems, [], r.out);
  const resolutions = analysis.entrypoints['.'].resolutions;
  assert.deepEqual(Object.keys(resolutions).sort(), ['bundler', 'node10', 'node16-cjs', 'node16-esm']);
  for (const [kind, { resolution }] of Object.entries(resolutions)) {
    assert.ok(resolution?.isTypeScript, `${kind}: types resolve (${JSON.stringify(resolution)})`);
  }
});

let installed;

test(`npm install ./*.tgz in an empty folder: the docs' example runs on the native addon of ${NATIVE}, ESM and CommonJS`, () => {
  installed = install('install', [TARBALL.main, TARBALL.native]);
  const pkg = join(installed, 'node_modules', '@menon', 'webhooks');
  assert.ok(!existsSync(join(pkg, 'native')), 'no native/ in the installed package');
  const addon = realpathSync(join(installed, 'node_modules', NATIVE, `menon-webhooks.${PLATFORM}.node`));
  runExample(installed, 'native', [addon]);
});

test(`${NATIVE} removed (npm uninstall, then --omit=optional): the docs' example runs on WebAssembly`, () => {
  assert.ok(installed, 'the install test ran first');
  // npm uninstall drops it from the folder's own dependencies; the main package still lists
  // it in optionalDependencies, so npm keeps it until told to omit optional packages.
  for (const args of [['uninstall', NATIVE], ['install', '--omit=optional']]) {
    const r = run('npm', [...args, '--prefix', '.', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], installed);
    assert.equal(r.status, 0, r.out);
  }
  assert.ok(!existsSync(join(installed, 'node_modules', NATIVE)), `${NATIVE} is gone`);
  runExample(installed, 'wasm', []);
});

test('npm install of @menon/webhooks alone, no platform package to be had: the docs\' example runs on WebAssembly', () => {
  const dir = install('wasm-only', [TARBALL.main]);
  assert.deepEqual(readdirSync(join(dir, 'node_modules', '@menon')), ['webhooks']);
  runExample(dir, 'wasm', []);
});
