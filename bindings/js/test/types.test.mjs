// index.d.ts: it compiles under `tsc --strict` for typical ESM and CommonJS uses
// (types-usage.ts, types-usage.cts), it declares every runtime export, and its event-type
// union is the core's list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS, HERE, PACKAGE } from './helpers.mjs';

const DTS = readFileSync(join(PACKAGE, 'index.d.ts'), 'utf8');

test('tsc --strict accepts the typed uses and refuses the @ts-expect-error ones', () => {
  const tsc = join(PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(HERE, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
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
