#!/usr/bin/env bash
# Builds the npm package @menon/webhooks in bindings/js, from any directory:
#
#   1. npm install       from package-lock.json (never rewriting it), when node_modules is
#                        missing or was installed from another lockfile
#   2. native addon      cargo build --release -p menon-webhooks-node
#                        -> native/menon-webhooks.<platform>-<arch>[-<libc>].node
#   3. WebAssembly       scripts/cargo-wasm build --release -p menon-webhooks-wasm, then
#                        wasm-bindgen --target web -> dist/wasm/, plus dist/wasm/inline.js
#                        (the .wasm as base64, for the browser/deno entry)
#   4. CommonJS          esbuild bundles src/node.js and src/browser.js -> dist/*.cjs;
#                        the ESM in src/ is published as it is
#   5. prints the size of the .wasm, raw and gzipped
#
# Cold, it installs wasm-bindgen-cli (the exact version bindings/wasm pins, ~2.5 min) into
# ${XDG_CACHE_HOME:-~/.cache}/menon-webhooks/tools/; warm, it only re-runs what changed.
#
# Environment (all optional):
#   MENON_JS_TARGET_DIR     cargo target folder, default <repo>/target/js (kept apart from
#                           the workspace's own target/ so builds do not wait on each other)
#   MENON_JS_SKIP_NATIVE=1  do not build the native addon (the package then runs on wasm)
#   MENON_JS_NATIVE_ONLY=1  build the native addon only (step 2: no npm, no wasm), what each
#                           platform job of .github/workflows/npm.yml runs
#   MENON_WASM_OPT_LEVEL    opt-level of the wasm build, default 3 (about twice the speed of
#                           "s" for ~3.5 KB more gzipped; "s" or "z" for size)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${MENON_JS_TARGET_DIR:-$repo/target/js}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/menon-webhooks
t0=$SECONDS

step() { printf '==> bindings/js: %s\n' "$*" >&2; }
die() { printf 'bindings/js/build.sh: error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node not found: install Node.js 20 or newer"
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"

# ------------------------------------------------------------------------- npm ---
# `npm install --no-save`, not `npm ci`: the platform packages in optionalDependencies
# (@menon/webhooks-<platform>, one per folder of npm/) are published with each release, so
# until a version's are on the registry the lockfile cannot hold them, and `npm ci` refuses
# such a lockfile ("Missing: @menon/webhooks-linux-x64-gnu@ from lock file") where
# `npm install` skips an optional package it cannot get. --no-save leaves package-lock.json
# as it is; the check before it is the one `npm ci` would fail on: package.json asks for a
# dependency the lockfile does not record at that spec.
native_only=${MENON_JS_NATIVE_ONLY:-0}
lock_hash=$(sha256sum "$here/package-lock.json" | cut -c1-16)
stamp=$here/node_modules/.menon-lock-hash
if [[ $native_only != 1 && ( ! -f $stamp || $(cat "$stamp") != "$lock_hash" ) ]]; then
    node - "$here" <<'EOF'
const { readFileSync } = require('node:fs');
const dir = process.argv[2];
const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
const root = JSON.parse(readFileSync(`${dir}/package-lock.json`, 'utf8')).packages[''];
for (const kind of ['dependencies', 'devDependencies', 'optionalDependencies']) {
  for (const [name, spec] of Object.entries(pkg[kind] ?? {})) {
    if (root[kind]?.[name] !== spec) {
      console.error(`bindings/js/build.sh: error: package-lock.json is out of date (${kind}: ${name}@${spec}); run npm install in bindings/js`);
      process.exit(1);
    }
  }
}
EOF
    step "npm install (from package-lock.json)"
    (cd "$here" && npm install --no-save --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$stamp"
fi

# --------------------------------------------------------------- wasm-bindgen ---
wbg_version=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' "$repo/bindings/wasm/Cargo.toml")
[[ -n $wbg_version ]] || die "cannot read the pinned wasm-bindgen version from bindings/wasm/Cargo.toml"
wbg_root=$cache/tools/wasm-bindgen-$wbg_version
wbg=$wbg_root/bin/wasm-bindgen
if [[ $native_only != 1 && ! -x $wbg ]]; then
    step "installing wasm-bindgen-cli $wbg_version (once, about 2.5 minutes) into $wbg_root"
    mkdir -p "$cache/tools"
    rm -rf "$wbg_root.tmp"
    # --locked first (the CLI's own lockfile); a crate it pins can be missing from the
    # registry (yanked), and then the newest compatible versions do.
    if ! cargo install wasm-bindgen-cli --version "$wbg_version" --locked --root "$wbg_root.tmp" --quiet; then
        step "retrying without --locked"
        cargo install wasm-bindgen-cli --version "$wbg_version" --root "$wbg_root.tmp" --quiet
    fi
    rm -rf "$wbg_root"
    mv "$wbg_root.tmp" "$wbg_root"
fi

# ------------------------------------------------------------------ native ---
if [[ ${MENON_JS_SKIP_NATIVE:-0} != 1 ]]; then
    step "native addon (napi-rs, release)"
    # LTO and one codegen unit: the core's HMAC and the glue inline into one another.
    CARGO_TARGET_DIR=$target/native CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
        CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo build --release --locked --quiet -p menon-webhooks-node --manifest-path "$repo/Cargo.toml"
    platform=$(node -p 'process.platform + "-" + process.arch')
    case $platform in
        linux-*)
            if ldd --version 2>&1 | grep -qi musl; then platform+=-musl; else platform+=-gnu; fi
            lib=libmenon_webhooks_node.so ;;
        darwin-*) lib=libmenon_webhooks_node.dylib ;;
        win32-*) platform+=-msvc; lib=menon_webhooks_node.dll ;;
        *) die "no native addon naming for $platform" ;;
    esac
    mkdir -p "$here/native"
    addon=$here/native/menon-webhooks.$platform.node
    if ! cmp -s "$target/native/release/$lib" "$addon"; then
        # Copy, then rename: a process that has the old addon loaded keeps its mapping.
        cp "$target/native/release/$lib" "$addon.tmp"
        mv "$addon.tmp" "$addon"
    fi
fi

if [[ $native_only == 1 ]]; then
    printf 'bindings/js: native addon built in %ss: %s\n' "$((SECONDS - t0))" "${addon:-none (MENON_JS_SKIP_NATIVE=1)}" >&2
    exit 0
fi

# -------------------------------------------------------------- WebAssembly ---
step "WebAssembly (wasm-bindgen, release, opt-level ${MENON_WASM_OPT_LEVEL:-3})"
# Profiles can only be set in the workspace's Cargo.toml; these apply to this build only.
CARGO_TARGET_DIR=$target/wasm MENON_WASM_BUILD_STD=std,panic_abort \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=${MENON_WASM_OPT_LEVEL:-3} CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
    "$repo/scripts/cargo-wasm" build --release --locked --quiet -p menon-webhooks-wasm --manifest-path "$repo/Cargo.toml"
wasm_in=$target/wasm/wasm32-unknown-unknown/release/menon_webhooks_wasm.wasm
out=$here/dist/wasm
wasm_hash=$( (sha256sum "$wasm_in"; "$wbg" --version) | sha256sum | cut -c1-16)
if [[ ! -f $out/.source-hash || $(cat "$out/.source-hash") != "$wasm_hash" ]]; then
    rm -rf "$out.tmp"
    "$wbg" --target web --omit-default-module-path --no-typescript \
        --remove-name-section --remove-producers-section --out-dir "$out.tmp" "$wasm_in"
    # The browser/deno entry compiles the module from these bytes, synchronously.
    node - "$out.tmp" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs');
const dir = process.argv[2];
const b64 = readFileSync(`${dir}/menon_webhooks_wasm_bg.wasm`).toString('base64');
writeFileSync(`${dir}/inline.js`, `// Generated by bindings/js/build.sh: menon_webhooks_wasm_bg.wasm, base64.
const WASM = '${b64}';

/** The WebAssembly module's bytes. */
export function wasmBytes() {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(WASM);
  const text = atob(WASM);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
`);
EOF
    echo "$wasm_hash" >"$out.tmp/.source-hash"
    rm -rf "$out"
    mv "$out.tmp" "$out"
fi

# ---------------------------------------------------------------- CommonJS ---
step "CommonJS build (esbuild) and types"
esbuild=$here/node_modules/.bin/esbuild
# import.meta.url has no CommonJS form: each bundle defines it from its own file name.
meta=(--define:import.meta.url=__menon_import_meta_url
    "--banner:js=const __menon_import_meta_url = require('node:url').pathToFileURL(__filename).href;")
"$esbuild" "$here/src/node.js" --bundle --format=cjs --platform=node --target=node20 \
    --outfile="$here/dist/node.cjs" --log-level=warning "${meta[@]}"
"$esbuild" "$here/src/browser.js" --bundle --format=cjs --platform=neutral --target=es2022 \
    --outfile="$here/dist/browser.cjs" --log-level=warning
cp "$here/index.d.ts" "$here/dist/index.d.cts"

raw=$(wc -c <"$out/menon_webhooks_wasm_bg.wasm")
gz=$(gzip -9 -c "$out/menon_webhooks_wasm_bg.wasm" | wc -c)
printf 'bindings/js: built in %ss; menon_webhooks_wasm_bg.wasm: %s bytes, %s bytes gzipped (-9)\n' \
    "$((SECONDS - t0))" "$raw" "$gz" >&2
