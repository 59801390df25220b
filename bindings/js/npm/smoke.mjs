// The check each platform job of .github/workflows/npm.yml runs on its own runner, before it
// packs its platform package: the addon in bindings/js/npm/<platform>/ loads through the
// package's `main` on this machine, and signs and verifies every fixtures/vectors sign
// vector through the package's API (src/api.js) byte for byte.
//
//   node bindings/js/npm/smoke.mjs <platform>      e.g. linux-x64-musl
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createApi } from '../src/api.js';

const platform = process.argv[2];
if (!platform) throw new Error('usage: node bindings/js/npm/smoke.mjs <platform>');
const require = createRequire(import.meta.url);
const pkg = require(`./${platform}/package.json`);
const api = createApi(require(`./${platform}`), 'native');

const vectors = JSON.parse(readFileSync(new URL('../../../fixtures/vectors/signatures.json', import.meta.url), 'utf8'));
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
function bodyOf(v) {
  if ('body' in v) return Buffer.from(v.body, 'utf8');
  if ('body_hex' in v) return Buffer.from(v.body_hex, 'hex');
  const { seed, length } = v.body_generate;
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = ALPHABET.charCodeAt((seed + i * 31) % 64);
  return b;
}

for (const v of vectors.sign) {
  const body = bodyOf(v);
  const headers = api.sign(body, v.secrets, { timestamp: v.timestamp });
  assert.equal(headers['X-Menon-Signature'], v.v1, v.name);
  assert.equal(headers['X-Menon-Signature-V2'], v.v2, v.name);
  assert.equal(api.verifySignature(body, v.v1, v.secrets[0]), true, v.name);
}
console.log(`${pkg.name}@${pkg.version} on ${process.platform}-${process.arch}: ${vectors.sign.length} sign vectors ok`);
