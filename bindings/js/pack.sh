#!/usr/bin/env bash
# Packs @menon/webhooks and its platform packages into DEST as a release publishes them,
# from any directory:
#
#   bindings/js/pack.sh DEST                  the main package (`npm pack`: its prepack runs
#                                             build.sh) and every platform package whose addon
#                                             is built (native/), e.g. linux-x64-gnu here
#   bindings/js/pack.sh --no-build DEST       the same from what build.sh already built
#                                             (`npm pack --ignore-scripts`)
#   bindings/js/pack.sh --native-only DEST    the platform packages only: what each job of
#                                             .github/workflows/npm.yml runs after
#                                             `MENON_JS_NATIVE_ONLY=1 build.sh`
#   bindings/js/pack.sh --main-only DEST      the main package only (the workflow's publish
#                                             job, whose platform packages come from those jobs)
#
# Platform packages: npm/<platform>/ (package.json, README.md) is @menon/webhooks-<platform>,
# one per entry of the main package's optionalDependencies; this copies
# native/menon-webhooks.<platform>.node (or the file in MENON_JS_ADDON_DIR) into that folder
# before packing it. A platform whose addon is not there is not packed, and said so: this
# machine builds linux-x64-gnu only, the others are built by the CI workflow, on their own
# runners.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf '==> bindings/js/pack.sh: %s\n' "$*" >&2; }
die() { printf 'bindings/js/pack.sh: error: %s\n' "$*" >&2; exit 1; }

build=1
main=1
native=1
while [[ $# -gt 1 ]]; do
    case $1 in
        --no-build) build=0 ;;
        --native-only) main=0 ;;
        --main-only) native=0 ;;
        *) die "unknown option $1 (usage: pack.sh [--no-build] [--native-only|--main-only] DEST)" ;;
    esac
    shift
done
[[ $# -eq 1 && $1 != -* && $main$native != 00 ]] || die "usage: pack.sh [--no-build] [--native-only|--main-only] DEST"
mkdir -p "$1"
dest=$(cd "$1" && pwd)
addons=${MENON_JS_ADDON_DIR:-$here/native}

# Every platform package is at the main package's version and is one of its
# optionalDependencies, before anything is packed (test/pack.test.mjs checks the rest).
node - "$here" <<'EOF'
const { readFileSync, readdirSync } = require('node:fs');
const dir = process.argv[2];
const main = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
const platforms = readdirSync(`${dir}/npm`, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
const wanted = Object.keys(main.optionalDependencies).sort();
const named = platforms.map((p) => `@menon/webhooks-${p}`);
if (JSON.stringify(named) !== JSON.stringify(wanted)) {
  console.error(`bindings/js/pack.sh: error: npm/ holds ${named.join(', ')}; optionalDependencies name ${wanted.join(', ')}`);
  process.exit(1);
}
for (const p of platforms) {
  const pkg = JSON.parse(readFileSync(`${dir}/npm/${p}/package.json`, 'utf8'));
  const spec = main.optionalDependencies[pkg.name];
  if (pkg.version !== main.version || spec !== main.version) {
    console.error(`bindings/js/pack.sh: error: ${pkg.name} is at ${pkg.version} (wanted as ${spec}); @menon/webhooks is at ${main.version}`);
    process.exit(1);
  }
}
EOF

pack() { # pack DIR [npm pack options...]: prints the tarball's name
    local dir=$1
    shift
    (cd "$dir" && npm pack --pack-destination "$dest" --loglevel=warn "$@")
}

if [[ $main == 1 ]]; then
    if [[ $build == 1 ]]; then
        say "@menon/webhooks (npm pack; prepack: build.sh)"
        pack "$here" --foreground-scripts
    else
        say "@menon/webhooks (npm pack --ignore-scripts: as built)"
        pack "$here" --ignore-scripts
    fi
fi

packed=0
for dir in "$here"/npm/*/; do
    [[ $native == 1 ]] || break
    platform=$(basename "$dir")
    file=menon-webhooks.$platform.node
    if [[ ! -f $addons/$file ]]; then
        say "@menon/webhooks-$platform: NOT PACKED, no $addons/$file (not built on this machine; .github/workflows/npm.yml builds it)"
        continue
    fi
    say "@menon/webhooks-$platform (addon: $addons/$file)"
    if ! cmp -s "$addons/$file" "$dir/$file"; then
        cp "$addons/$file" "$dir/$file.tmp"
        mv "$dir/$file.tmp" "$dir/$file"
    fi
    pack "$dir"
    packed=$((packed + 1))
done
[[ $main == 1 || $packed -gt 0 ]] || die "--native-only: no addon in $addons to pack"
