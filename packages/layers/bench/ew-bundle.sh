#!/usr/bin/env bash
# Bundles what ew-device.sh runs into packages/tensor/dist-bundle/ew (webgpu stays external; the
# directory sits in a package whose node_modules/webgpu the device script links).
set -euo pipefail
root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
dir=$root/packages/tensor/dist-bundle/ew
mkdir -p "$dir"
common=(--bundle --platform=node --format=esm --external:webgpu --conditions=@dynconv/source --log-level=warning)
"$root/node_modules/.bin/esbuild" "$root/packages/layers/bench/device-tests.ts" "${common[@]}" \
  --ignore-annotations --alias:vitest="$root/packages/tensor/bench/vitest-shim.ts" --outfile="$dir/fused-tests.mjs"
"$root/node_modules/.bin/esbuild" "$root/packages/trainer/bench/e2e.bench.ts" "${common[@]}" --outfile="$dir/e2e.mjs"
"$root/node_modules/.bin/esbuild" "$root/packages/trainer/bench/count-dispatches.ts" "${common[@]}" --outfile="$dir/count.mjs"
ls -l "$dir"
