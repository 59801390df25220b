// The repository README repeats this package's README (receivers for Express, Next.js and
// Workers): every code block must stand there unchanged, so the two cannot drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE } from './helpers.mjs';

test('the root README carries every code block of bindings/js/README.md verbatim', () => {
  const own = readFileSync(join(PACKAGE, 'README.md'), 'utf8');
  const root = readFileSync(join(PACKAGE, '..', '..', 'README.md'), 'utf8');
  const blocks = [...own.matchAll(/```(?:js|ts|javascript|typescript)\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, `${blocks.length} code blocks`);
  for (const code of blocks) assert.ok(root.includes(code), `README.md lacks this block:\n${code}`);
});
