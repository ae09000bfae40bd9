#!/usr/bin/env bash
# Bundles the GPU benchmark into DIR/bench.mjs (webgpu stays external) so that
# /work/shared/device/pack.sh DIR can carry it to the GPU machine:
#   packages/tensor/bench/bundle.sh /tmp/bench-bundle && ../shared/device/pack.sh /tmp/bench-bundle
#   (device) source .device/prelude.sh && BENCH_OUT=$OUT node .device/extra/bench.mjs
set -euo pipefail
dir=${1:?usage: bundle.sh DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
mkdir -p "$dir"
"$root/node_modules/.bin/esbuild" "$here/gpu-bench.ts" --bundle --platform=node --format=esm \
  --external:webgpu --conditions=@dynconv/source --log-level=warning --outfile="$dir/bench.mjs"
ls -l "$dir/bench.mjs"
# The WebGPU tests with a vitest stand-in: (device) node DIR/device-tests.mjs
"$root/node_modules/.bin/esbuild" "$here/device-tests.ts" --bundle --platform=node --format=esm \
  --external:webgpu --conditions=@dynconv/source --ignore-annotations --alias:vitest="$here/vitest-shim.ts" --log-level=warning \
  --outfile="$dir/device-tests.mjs"
ls -l "$dir/device-tests.mjs"
# The end-to-end training-step benchmark (packages/trainer/bench/e2e.bench.ts): (device) node DIR/e2e.mjs
"$root/node_modules/.bin/esbuild" "$root/packages/trainer/bench/e2e.bench.ts" --bundle --platform=node --format=esm \
  --external:webgpu --conditions=@dynconv/source --log-level=warning --outfile="$dir/e2e.mjs"
ls -l "$dir/e2e.mjs"
# Host time per dispatch of a training-like step (bench/host-recording.ts): (device) node DIR/host-recording.mjs
"$root/node_modules/.bin/esbuild" "$here/host-recording.ts" --bundle --platform=node --format=esm \
  --external:webgpu --conditions=@dynconv/source --log-level=warning --outfile="$dir/host-recording.mjs"
ls -l "$dir/host-recording.mjs"
# Where the matmul kernels lose time (bench/sgmat-probe.ts; PROBE_* switches in its header): (device) node DIR/sgmat-probe.mjs
"$root/node_modules/.bin/esbuild" "$here/sgmat-probe.ts" --bundle --platform=node --format=esm \
  --external:webgpu --conditions=@dynconv/source --log-level=warning --outfile="$dir/sgmat-probe.mjs"
ls -l "$dir/sgmat-probe.mjs"
