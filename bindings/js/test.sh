#!/usr/bin/env bash
# Builds @menon/webhooks (build.sh: npm install when needed, the native addon, the
# WebAssembly build, the CommonJS bundles), packs it as a release does (pack.sh: `npm pack`,
# whose prepack builds, of the main package and of the platform package built here) and runs
# its tests with node's built-in test runner, from any directory. Extra arguments go to
# `node --test` (e.g. --test-name-pattern=express).
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
#   pack.test.mjs          the packed tarballs: `npm install ./*.tgz` into an empty folder runs
#                          the docs' example on the platform package's addon, then on wasm
#                          without it; publint --strict and attw on them; npm/<platform>/
#                          packages agree with optionalDependencies and the CI workflow
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
# The tarballs test/pack.test.mjs installs, packed once before the tests run in parallel (the
# prepack build rewrites dist/, which the other tests load).
packed=$(mktemp -d)
trap 'rm -rf "$packed"' EXIT
echo "==> bindings/js: npm pack (pack.sh)" >&2
"$here/pack.sh" "$packed" >&2
MENON_JS_PACKED=$packed node --test "$@" test/*.test.mjs
