#!/usr/bin/env bash
# The seller dashboard in a real browser (dashboard.test.mjs): builds menon-harness,
# installs playwright-core (npm ci; it never downloads a browser) and drives Debian's
# headless Chromium through the whole flow, saving screenshots to <target>/screenshots/
# (MENON_UPDATE_SCREENSHOTS=1: to docs/screenshots/, the copies harness/README.md shows).
# Then the docs' Node receiver (docs-roundtrip.test.mjs, no browser): random event data
# published to the same binary, every accepted delivery verified with the docs'
# JSON.stringify(req.body) (MENON_ROUNDTRIP_CASES, MENON_ROUNDTRIP_SEED).
# Runs from any directory; extra arguments go to `node --test`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "harness/browser/test.sh: error: $chromium is missing; install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM_PATH" >&2
        exit 1
    fi
    echo "==> harness/browser: installing Debian's chromium for the browser test (once)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cd "$here"
if [[ ! -d node_modules/playwright-core ]] || ! npm ls --silent >/dev/null 2>&1; then
    npm ci --no-audit --no-fund
fi

(cd "$root" && cargo build -p menon-harness --locked)
export MENON_HARNESS_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/menon-harness"
export CHROMIUM_PATH="$chromium"
exec node --test "$@" dashboard.test.mjs docs-roundtrip.test.mjs
