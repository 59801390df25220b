// The two backends on Node.js: the native addon for this platform (built into native/ in
// a checkout, else the package @menon/webhooks-<platform> npm installed from
// optionalDependencies), and the WebAssembly build read from disk (dist/wasm/). Paths are
// relative to this file; dist/node.cjs, the CommonJS bundle, sits at the same depth, so they
// hold for both.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as wasm from '../dist/wasm/menon_webhooks_wasm.js';

/** Platform names of the native addon this machine could use, most likely first. */
function nativeTargets() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    // glibc or musl as @napi-rs/cli's loader tells them: Node's report names the glibc it runs on.
    const glibc = Boolean(process.report?.getReport?.().header?.glibcVersionRuntime);
    return glibc ? [`linux-${arch}-gnu`, `linux-${arch}-musl`] : [`linux-${arch}-musl`, `linux-${arch}-gnu`];
  }
  if (platform === 'win32') return [`win32-${arch}-msvc`];
  return [`${platform}-${arch}`];
}

/**
 * The native addon's exports. Throws an Error with `code` ERR_MENON_NATIVE_UNAVAILABLE
 * and `builtButBroken` (true when a file exists but does not load) when none loads.
 */
export function loadNative() {
  const require = createRequire(import.meta.url);
  const failures = [];
  let builtButBroken = false;
  for (const target of nativeTargets()) {
    // A checkout's own build first (it is the newest), then the platform package.
    for (const file of [`../native/menon-webhooks.${target}.node`, `@menon/webhooks-${target}`]) {
      try {
        return require(file);
      } catch (e) {
        const missing = e?.code === 'MODULE_NOT_FOUND';
        builtButBroken ||= !missing;
        failures.push(`${file.replace('../', '')}: ${missing ? (file[0] === '@' ? 'not installed' : 'not built') : e.message}`);
      }
    }
  }
  const error = new Error(
    `no native @menon/webhooks addon loads on ${process.platform}-${process.arch} ` +
      `(${failures.join('; ')}): install @menon/webhooks with its optional dependencies, ` +
      'build it with bindings/js/build.sh, or let the ' +
      'WebAssembly build run (MENON_WEBHOOKS_BACKEND unset or wasm)',
  );
  error.code = 'ERR_MENON_NATIVE_UNAVAILABLE';
  error.builtButBroken = builtButBroken;
  throw error;
}

let wasmReady = false;

/** The WebAssembly build, compiled synchronously from dist/wasm/ on first use. */
export function loadWasm() {
  if (!wasmReady) {
    wasm.initSync({ module: readFileSync(new URL('../dist/wasm/menon_webhooks_wasm_bg.wasm', import.meta.url)) });
    wasmReady = true;
  }
  return wasm;
}

/**
 * [backend, name] as MENON_WEBHOOKS_BACKEND asks: `native` (no fallback), `wasm`, or
 * `auto`/unset (native when it loads, else WebAssembly).
 */
export function selectBackend(choice = process.env.MENON_WEBHOOKS_BACKEND || 'auto') {
  if (choice === 'wasm') return [loadWasm(), 'wasm'];
  if (choice === 'native') return [loadNative(), 'native'];
  if (choice !== 'auto') {
    throw new Error(`MENON_WEBHOOKS_BACKEND must be native, wasm or auto, not ${JSON.stringify(choice)}`);
  }
  try {
    return [loadNative(), 'native'];
  } catch (e) {
    // No addon for this platform is the normal case; one that exists but fails is worth a word.
    if (e.builtButBroken) process.emitWarning(`${e.message}; using WebAssembly`, { code: 'MENON_NATIVE_FALLBACK' });
    return [loadWasm(), 'wasm'];
  }
}
