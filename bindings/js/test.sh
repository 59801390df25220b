#!/usr/bin/env bash
# Builds @menon/webhooks (build.sh: npm ci when needed, the native addon, the WebAssembly
# build, the CommonJS bundles) and runs its tests with node's built-in test runner, from
# any directory. Extra arguments go to `node --test` (e.g. --test-name-pattern=express).
#
#   vectors.test.mjs       every fixtures/vectors case through the native and wasm builds
#   docs-example.test.mjs  the docs' Node receiver accepts every fixture event signed by the core
#   express.test.mjs       expressMiddleware() over real HTTP on loopback
#   fetch.test.mjs         the fetch-style helpers over real HTTP on loopback
#   api.test.mjs           argument conversion, errors, native/wasm differential run
#   standard.test.mjs      Standard Webhooks v1/v1a against npm standardwebhooks and node:crypto
#   entry.test.mjs         ESM/CommonJS, backend selection, export conditions per runtime
#   browser.test.mjs       the browser entry runs every vector in headless Chromium (Debian's)
#   types.test.mjs         index.d.ts under tsc --strict, and against the core's event types
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/build.sh"
cd "$here"

# test/browser.test.mjs drives Debian's Chromium (playwright-core never downloads a browser).
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bindings/js/test.sh: error: $chromium is missing; install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM_PATH" >&2
        exit 1
    fi
    echo "==> bindings/js: installing Debian's chromium for the browser test (once)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
exec node --test "$@" test/*.test.mjs
