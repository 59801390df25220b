// index.d.ts: it compiles under `tsc --strict` for typical ESM and CommonJS uses
// (types-usage.ts, types-usage.cts), every fixture event matches its event type, it
// declares every runtime export, and its event-type union is the core's list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKENDS, HERE, PACKAGE, fixtureEvents } from './helpers.mjs';

const DTS = readFileSync(join(PACKAGE, 'index.d.ts'), 'utf8');
const TSC = join(PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs the package's tsc with `args`; returns its output when it fails. */
function tsc(args) {
  const r = spawnSync(process.execPath, [TSC, ...args], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? null : `tsc failed (${r.status}):\n${r.stdout}${r.stderr}`;
}

test('tsc --strict accepts the typed uses and refuses the @ts-expect-error ones', () => {
  assert.equal(tsc(['-p', join(HERE, 'tsconfig.json')]), null);
});

/** `listing.created` -> `ListingCreatedEvent`, the type index.d.ts names it. */
function eventTypeName(type) {
  return `${type.split(/[._]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('')}Event`;
}

test('every fixture event, as a literal, is a WebhookEvent and its own event type', () => {
  const events = fixtureEvents();
  assert.equal(events.length, 21);
  const lines = [`import type * as M from ${JSON.stringify(join(PACKAGE, 'index.js'))};`];
  for (const { file, text } of events) {
    const { type } = JSON.parse(text);
    const name = type.replace('.', '_');
    assert.match(DTS, new RegExp(`^export type ${eventTypeName(type)} = EventEnvelope<'${type}'`, 'm'), file);
    lines.push(`// ${file}`);
    lines.push(`export const ${name}: M.${eventTypeName(type)} = ${text};`);
    lines.push(`export const ${name}_any: M.WebhookEvent = ${text};`);
  }
  // The check can fail: a docs member missing, or of another type, is refused.
  const created = JSON.parse(events.find((e) => e.file === 'listing.created.json').text);
  const { price, ...unpriced } = created.data.listing;
  lines.push('// @ts-expect-error listing.price is required');
  lines.push(`export const unpriced: M.ListingCreatedEvent = ${JSON.stringify({ ...created, data: { listing: unpriced } })};`);
  lines.push('// @ts-expect-error listing.price is a number');
  lines.push(`export const quoted: M.WebhookEvent = ${JSON.stringify({ ...created, data: { listing: { ...unpriced, price: String(price) } } })};`);
  const dir = mkdtempSync(join(tmpdir(), 'menon-fixture-types-'));
  try {
    writeFileSync(join(dir, 'fixtures.mts'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        lib: ['es2022'],
        types: [],
        skipLibCheck: false,
      },
      files: ['fixtures.mts'],
    }));
    assert.equal(tsc(['-p', join(dir, 'tsconfig.json')]), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('index.d.ts declares every export of the package', () => {
  for (const { api } of BACKENDS) {
    for (const name of Object.keys(api)) {
      assert.match(DTS, new RegExp(`^export (declare )?(function|const|class) ${name}\\b`, 'm'), name);
    }
  }
});

test("the EventType union is the core's list of 21", () => {
  const union = DTS.match(/export type EventType =([^;]*);/)[1];
  const declared = [...union.matchAll(/'([a-z.]+)'/g)].map((m) => m[1]);
  for (const { raw } of BACKENDS) assert.deepEqual(declared, raw.eventTypes());
  assert.equal(declared.length, 21);
});
