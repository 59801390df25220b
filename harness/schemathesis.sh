#!/usr/bin/env bash
# Schemathesis (PyPI) against a live `menon-harness serve`'s /openapi.json: no 5xx, and
# every response within the document (schema, status code, content type).
#
#   harness/schemathesis.sh                 # from any folder
#   ST_MAX_EXAMPLES=100 ST_SEED=7 harness/schemathesis.sh
#
# Builds menon-harness (debug; CARGO_TARGET_DIR is honoured), starts `serve` on a free
# loopback port with a temporary data folder and --allow-target=loopback, mints a seller
# JWT and an API key with the CLI, then runs schemathesis twice: the /v1/* operations with
# the API key, everything else (/api/seller/*, /healthz) with the seller JWT. The venv
# (pinned by harness/schemathesis-requirements.txt) lives in
# ${XDG_CACHE_HOME:-$HOME/.cache}/menon-webhooks/venv-schemathesis-<hash> and is reused.
# Exits non-zero on any failure; the server is stopped by PID on exit.
set -euo pipefail

harness_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$harness_dir")"
requirements="$harness_dir/schemathesis-requirements.txt"
max_examples="${ST_MAX_EXAMPLES:-30}"
seed="${ST_SEED:-20240611}"

# --- venv -------------------------------------------------------------------------------
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
fi
[[ -n "$python" ]] || { echo "schemathesis.sh: no python3 found" >&2; exit 1; }
hash="$(sha256sum "$requirements" | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/menon-webhooks"
venv="$cache/venv-schemathesis-$hash"
if [[ ! -f "$venv/.complete" ]]; then
    echo "schemathesis.sh: creating $venv" >&2
    mkdir -p "$cache"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --require-virtualenv -r "$requirements"
    touch "$venv/.complete"
fi
st="$venv/bin/schemathesis"

# --- build ------------------------------------------------------------------------------
cd "$root"
cargo build --quiet -p menon-harness --bin menon-harness
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
bin="$target_dir/debug/menon-harness"
[[ -x "$bin" ]] || { echo "schemathesis.sh: $bin was not built" >&2; exit 1; }

# --- server -----------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/menon-schemathesis.XXXXXX")"
server_pid=""
cleanup() {
    local status=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -s "$work/server.log" ]]; then
        echo "--- server log (last 40 lines) ---" >&2
        tail -n 40 "$work/server.log" >&2 || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

data="$work/data"
seller="sel_schemathesis"
token="$("$bin" token --seller "$seller" --data-dir "$data")"
api_key="$("$bin" api-key create --seller "$seller" --data-dir "$data")"

RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --allow-target=loopback --delivery-timeout 2s \
    >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

base=""
for _ in $(seq 1 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "schemathesis.sh: the server exited early" >&2
        exit 1
    fi
    line="$(head -n 1 "$work/server.out" 2>/dev/null || true)"
    if [[ "$line" == *"listening on http://"* ]]; then
        base="${line##*listening on }"
        if curl -fsS "$base/healthz" >/dev/null 2>&1; then
            break
        fi
    fi
    sleep 0.1
done
[[ -n "$base" ]] && curl -fsS "$base/healthz" >/dev/null || {
    echo "schemathesis.sh: the server did not become healthy" >&2
    exit 1
}
echo "schemathesis.sh: server pid $server_pid at $base" >&2

# --- schemathesis -----------------------------------------------------------------------
checks="not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
common=(
    "$base/openapi.json"
    --checks "$checks"
    --max-examples "$max_examples"
    --seed "$seed"
    --workers 1
    --request-timeout 10
    --generation-database none
)
# Run from the temp folder: nothing (.hypothesis, reports) lands in the checkout.
cd "$work"
status=0
echo "== /v1/* with the API key" >&2
"$st" --no-color run "${common[@]}" --include-path-regex '^/v1/' \
    -H "Authorization: Bearer $api_key" || status=1
echo "== the rest (/api/seller/*, /healthz) with the seller JWT" >&2
"$st" --no-color run "${common[@]}" --exclude-path-regex '^/v1/' \
    -H "Authorization: Bearer $token" || status=1
exit "$status"
