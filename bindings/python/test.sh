#!/usr/bin/env bash
# The Python SDK's tests, from any cwd, on a fresh machine or a warm one:
#   1. a venv per (requirements-dev.txt, interpreter) under
#      ${XDG_CACHE_HOME:-~/.cache}/menon-webhooks/venv-py-<hash>, made once;
#   2. the abi3 wheel built by maturin (release) into <target>/wheels (cargo's target dir at
#      $CARGO_TARGET_DIR or the workspace's target/; examples/test.sh installs it from there),
#      and installed into the venv;
#   3. pytest over bindings/python/tests (vectors, events, frameworks' test clients);
#   4. mypy --strict over the package (stubs and helpers), a typed usage file and the bench;
#   5. mypy.stubtest: the stubs must match the built module.
# PYTHON=python3.x picks the interpreter that makes the venv (default python3, 3.9+).
#
#   bindings/python/test.sh                  # all of the above
#   bindings/python/test.sh --bench [--quick] # build as above, then run bench/bench.py instead
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

# --- venv keyed by the requirements and the interpreter -------------------------------------------
req="$here/requirements-dev.txt"
key="$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/menon-webhooks"
venv="$cache/venv-py-$key"
if [[ ! -f "$venv/.complete" ]]; then
  echo "bindings/python: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$req"
  touch "$venv/.complete"
fi
py="$venv/bin/python"

# --- build and install the wheel --------------------------------------------------------------------
wheels="${CARGO_TARGET_DIR:-$repo/target}/wheels"
mkdir -p "$wheels"
rm -f "$wheels"/menon_webhooks-*.whl
"$venv/bin/maturin" build --release --quiet \
  --manifest-path "$here/Cargo.toml" \
  --interpreter "$py" \
  --target-dir "${CARGO_TARGET_DIR:-$repo/target}" \
  --out "$wheels"
"$py" -m pip install --quiet --force-reinstall --no-deps --no-index "$wheels"/menon_webhooks-*.whl

if [[ "${1:-}" == "--bench" ]]; then
  shift
  "$py" "$here/bench/bench.py" "$@"
  exit
fi

# --- tests, types, stubs ----------------------------------------------------------------------------
# From bindings/python, where the sources (python/menon_webhooks) are not importable as
# `menon_webhooks`: the tests run the installed wheel.
cd "$here"
"$py" -m pytest -q tests
export MYPY_CACHE_DIR="$venv/.mypy_cache"
"$py" -m mypy --strict python/menon_webhooks tests/typed_usage.py bench/bench.py
# (from the venv's folder: stubtest keeps its cache in the working directory)
(cd "$venv" && "$py" -m mypy.stubtest menon_webhooks --mypy-config-file "$here/pyproject.toml")
