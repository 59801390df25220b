#!/usr/bin/env bash
# The Python SDK's tests, from any cwd, on a fresh machine or a warm one:
#   1. a venv per (requirements-dev.txt, interpreter) under
#      ${XDG_CACHE_HOME:-~/.cache}/menon-webhooks/venv-py-<hash>, made once;
#   2. the abi3 wheel built by maturin (release, linked by zig against glibc 2.28: tagged
#      manylinux_2_28, as pyproject.toml's [tool.maturin] asks) into <target>/wheels (cargo's
#      target dir at $CARGO_TARGET_DIR or the workspace's target/; examples/test.sh installs it
#      from there), and installed into the venv;
#   3. pytest over bindings/python/tests (vectors, events, frameworks' test clients);
#   4. mypy --strict over the package (stubs and helpers), a typed usage file, the bench and
#      packaging_tests;
#   5. mypy.stubtest: the stubs must match the built module;
#   6. packaging: a musllinux_1_2 wheel where the Rust standard library for
#      x86_64-unknown-linux-musl is installed (else it says NOT BUILT), the sdist, and pytest
#      over packaging_tests (the wheels' tags, auditwheel, glibc symbol versions, metadata and
#      licence files; the sdist installed by pip into a fresh venv and run), into
#      <target>/python-dist.
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
# pyproject.toml asks for manylinux_2_28, which maturin's auditwheel step checks (it refuses the
# wheel when the library needs a newer glibc symbol). This machine's glibc is newer, so the
# library is linked by zig against glibc 2.28: `--zig`, a command-line flag only (maturin reads
# no `zig` from pyproject.toml). maturin runs the venv's `python3 -m ziglang`, hence the PATH.
target="${CARGO_TARGET_DIR:-$repo/target}"
wheels="$target/wheels"
mkdir -p "$wheels"
rm -f "$wheels"/menon_webhooks-*.whl
PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release --zig --quiet \
  --manifest-path "$here/Cargo.toml" \
  --interpreter "$py" \
  --target-dir "$target" \
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
"$py" -m mypy --strict python/menon_webhooks tests/typed_usage.py bench/bench.py \
  packaging_tests/test_packaging.py
# (from the venv's folder: stubtest keeps its cache in the working directory)
(cd "$venv" && "$py" -m mypy.stubtest menon_webhooks --mypy-config-file "$here/pyproject.toml")

# --- packaging: musllinux wheel, sdist, and their tests ---------------------------------------------
# Into <target>/python-dist, not <target>/wheels: examples/test.sh installs the newest wheel there.
dist="$target/python-dist"
rm -rf "$dist"
mkdir -p "$dist"
musl=x86_64-unknown-linux-musl
if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  # (maturin's "cargo:warning=Compiler family detection failed ... x86_64-linux-musl-gcc" is
  # harmless: zig is the compiler and linker.)
  echo "bindings/python: building the musllinux_1_2 wheel ($musl, linked by zig)" >&2
  PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release --zig --quiet \
    --target "$musl" --compatibility musllinux_1_2 \
    --manifest-path "$here/Cargo.toml" \
    --interpreter "$py" \
    --target-dir "$target" \
    --out "$dist"
else
  echo "bindings/python: musllinux wheel NOT BUILT: the Rust standard library for $musl is not" \
    "installed here (rustup target add $musl), so no musllinux wheel is built or tested." >&2
fi
"$venv/bin/maturin" sdist --manifest-path "$here/Cargo.toml" --out "$dist" 2>&1 | tail -n 1
wheel=$(ls "$wheels"/menon_webhooks-*.whl)
MENON_PY_WHEEL="$wheel" MENON_PY_DIST="$dist" "$py" -m pytest -q --durations=5 packaging_tests
