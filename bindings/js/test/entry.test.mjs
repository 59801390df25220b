// The package as users load it: ESM and CommonJS on Node (native addon, else WebAssembly,
// MENON_WEBHOOKS_BACKEND to force one), and the export conditions of the other runtimes
// (browser and deno: embedded WebAssembly; worker, workerd and edge-light: a precompiled
// `.wasm?module` import). Each case runs in its own Node process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BACKENDS, PACKAGE, SIG, SECRET } from './helpers.mjs';

const VECTOR = SIG.verify.find((v) => v.name === 'v2/valid-listing-created');

/** Runs `code` with node in `cwd` (ESM unless cjs); returns { status, stdout, stderr }. */
function run(code, { cwd = PACKAGE, env = {}, args = [], cjs = false } = {}) {
  const r = spawnSync(process.execPath, [...args, ...(cjs ? [] : ['--input-type=module']), '-e', code], {
    cwd,
    env: { ...process.env, MENON_WEBHOOKS_BACKEND: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

// Verifies the vector with the loaded package and prints its backend.
const CHECK = `
  const v = ${JSON.stringify(VECTOR)};
  const event = m.verify(v.body, { 'X-Menon-Signature-V2': v.header }, v.secrets, { now: v.now });
  if (event.type !== 'listing.created') throw new Error('wrong event');
  console.log(m.backend);`;
const ESM = `const m = await import('@menon/webhooks'); ${CHECK}`;
const CJS = `const m = require('@menon/webhooks'); ${CHECK}`;

test('Node ESM and CommonJS load the native addon, or WebAssembly when asked', () => {
  for (const [code, cjs] of [[ESM, false], [CJS, true]]) {
    assert.deepEqual(run(code, { cjs }), { status: 0, stdout: 'native', stderr: '' });
    assert.equal(run(code, { cjs, env: { MENON_WEBHOOKS_BACKEND: 'wasm' } }).stdout, 'wasm');
    assert.equal(run(code, { cjs, env: { MENON_WEBHOOKS_BACKEND: 'native' } }).stdout, 'native');
    const bad = run(code, { cjs, env: { MENON_WEBHOOKS_BACKEND: 'fast' } });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /MENON_WEBHOOKS_BACKEND must be native, wasm or auto/);
  }
});

test('without a native addon for the platform, Node falls back to WebAssembly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'menon-webhooks-'));
  try {
    const pkg = join(dir, 'node_modules', '@menon', 'webhooks');
    mkdirSync(pkg, { recursive: true });
    for (const f of ['package.json', 'index.d.ts', 'src', 'dist']) cpSync(join(PACKAGE, f), join(pkg, f), { recursive: true });
    for (const [code, cjs] of [[ESM, false], [CJS, true]]) {
      assert.deepEqual(run(code, { cwd: dir, cjs }), { status: 0, stdout: 'wasm', stderr: '' });
      const forced = run(code, { cwd: dir, cjs, env: { MENON_WEBHOOKS_BACKEND: 'native' } });
      assert.notEqual(forced.status, 0);
      assert.match(forced.stderr, /no native @menon\/webhooks addon loads on .*not built.*build\.sh/);
    }
    // A broken addon file: still WebAssembly, with a warning that says why.
    mkdirSync(join(pkg, 'native'));
    writeFileSync(join(pkg, 'native', `menon-webhooks.${process.platform}-${process.arch}-gnu.node`), 'not a shared object');
    const broken = run(ESM, { cwd: dir });
    assert.equal(broken.stdout, 'wasm');
    assert.match(broken.stderr, /MENON_NATIVE_FALLBACK|using WebAssembly/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export conditions: each runtime gets its entry', () => {
  const expected = {
    node: 'src/node.js',
    browser: 'src/browser.js',
    deno: 'src/browser.js',
    worker: 'src/edge.js',
    workerd: 'src/edge.js',
    'edge-light': 'src/edge.js',
  };
  for (const [condition, file] of Object.entries(expected)) {
    const r = run(`console.log(import.meta.resolve('@menon/webhooks'))`, { args: [`--conditions=${condition}`] });
    assert.equal(r.stdout, pathToFileURL(join(PACKAGE, file)).href, condition);
  }
  const cjs = run(`console.log(require.resolve('@menon/webhooks'))`, { cjs: true, args: ['--conditions=browser'] });
  assert.equal(cjs.stdout, join(PACKAGE, 'dist', 'browser.cjs'));
  const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8'));
  assert.equal(pkg.name, '@menon/webhooks');
});

test('the browser/deno entry (embedded WebAssembly) works, as ESM and CommonJS', () => {
  assert.deepEqual(run(ESM, { args: ['--conditions=browser'] }), { status: 0, stdout: 'wasm', stderr: '' });
  assert.deepEqual(run(CJS, { cjs: true, args: ['--conditions=browser'] }), { status: 0, stdout: 'wasm', stderr: '' });
  assert.deepEqual(run(ESM, { args: ['--conditions=deno'] }), { status: 0, stdout: 'wasm', stderr: '' });
});

test('the worker/edge entry works when a bundler turns `.wasm?module` into a WebAssembly.Module', async () => {
  // What wrangler and Next.js do for Workers and the Edge runtime, done here with esbuild.
  const dir = mkdtempSync(join(tmpdir(), 'menon-webhooks-edge-'));
  try {
    const out = join(dir, 'worker.mjs');
    await build({
      stdin: {
        contents: `import * as m from '@menon/webhooks';
          export default { async fetch(request, env) {
            try {
              const event = await m.verifyRequest(request, env.SECRET);
              return Response.json({ backend: m.backend, id: event.id });
            } catch (e) {
              return Response.json({ error: e.code }, { status: e.status });
            }
          } };`,
        resolveDir: PACKAGE,
      },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      outfile: out,
      logLevel: 'silent',
      plugins: [
        {
          name: 'wasm-module',
          setup(b) {
            b.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({
              path: join(args.resolveDir, args.path.replace(/\?module$/, '')),
              namespace: 'wasm-module',
            }));
            b.onLoad({ filter: /.*/, namespace: 'wasm-module' }, (args) => ({
              contents: `export default new WebAssembly.Module(new Uint8Array(${JSON.stringify([...readFileSync(args.path)])}));`,
              loader: 'js',
            }));
          },
        },
      ],
    });
    const bundled = readFileSync(out, 'utf8');
    assert.doesNotMatch(bundled, /wasmBytes|fromBase64/, 'the edge entry does not embed the base64 copy');
    const worker = (await import(pathToFileURL(out).href)).default;
    const body = VECTOR.body;
    const headers = BACKENDS[0].api.sign(body, SECRET);
    const ok = await worker.fetch(new Request('https://example.test/hook', { method: 'POST', body, headers }), { SECRET });
    assert.deepEqual(await ok.json(), { backend: 'wasm', id: JSON.parse(body).id });
    const refused = await worker.fetch(new Request('https://example.test/hook', { method: 'POST', body }), { SECRET });
    assert.deepEqual([refused.status, await refused.json()], [401, { error: 'missing_signature' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
