#!/usr/bin/env bash
# Step 1 of action.yml: puts menon-harness on PATH. MENON_HARNESS, when set to an
# executable, is used as it is (a runner image that has one, or a test). Else a binary in
# the cache folder (~/.cache/menon-webhooks/action, kept by actions/cache, or
# MENON_ACTION_CACHE) built from this very checkout is reused; else it is built from the
# action's checkout with cargo (release, --locked) into that folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache=${MENON_ACTION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/menon-webhooks/action}
# The build's identity: the lockfile and every source compiled into the binary.
sources=("$here/core/src" "$here/harness/src" "$here/harness/common/src" "$here/harness/grader/src"
    "$here/harness/server/src" "$here/harness/server/migrations" "$here/harness/server/templates"
    "$here/examples/rust-axum/src")
key=$(find "$here/Cargo.lock" "${sources[@]}" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
bin="$cache/$key/menon-harness"
if [[ -n ${MENON_HARNESS:-} ]]; then
    [[ -x $MENON_HARNESS ]] || { echo "::error::MENON_HARNESS=$MENON_HARNESS is not an executable" >&2; exit 1; }
    bin=$MENON_HARNESS
    echo "menon-harness: using MENON_HARNESS=$bin"
elif [[ -x $bin ]]; then
    echo "menon-harness: using the cached build $bin"
else
    command -v cargo >/dev/null || { echo "::error::menon-harness needs a Rust toolchain (cargo) to build; GitHub's ubuntu runners have one" >&2; exit 1; }
    echo "menon-harness: building from $here (cargo build --release --locked; cached afterwards)"
    mkdir -p "$cache/$key"
    cargo build --release --locked -p menon-harness --manifest-path "$here/Cargo.toml" --target-dir "$cache/target"
    cp "$cache/target/release/menon-harness" "$bin"
fi
"$bin" --version
if [[ -n ${GITHUB_PATH:-} ]]; then
    dirname "$bin" >>"$GITHUB_PATH"
fi
echo "MENON_HARNESS=$bin" >>"${GITHUB_ENV:-/dev/null}"
