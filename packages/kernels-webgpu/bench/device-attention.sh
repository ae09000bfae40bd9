#!/usr/bin/env bash
# Causal attention benchmark on the GPU machine, one device call (from the repository root):
#   bash packages/kernels-webgpu/bench/device-attention.sh [bench args...]
# Carry: .device and packages/kernels-webgpu/dist-bundle (esbuild of bench/attention.bench.ts,
# as the package's bench:attention script does). A baseline bundle of earlier kernels at
# dist-bundle/attention-old.mjs, when present, runs first in the same call (attention-previous.*).
# BUNDLE=dir (under the package) reads both bundles from there instead of dist-bundle.
set -uo pipefail
source .device/prelude.sh
mkdir -p packages/kernels-webgpu/node_modules
ln -sfn "$PWD/.device/node_modules/webgpu" packages/kernels-webgpu/node_modules/webgpu
out=${OUT:-/tmp/device-attention}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"
cd packages/kernels-webgpu
bundle=${BUNDLE:-dist-bundle}
if [ -f "$bundle/attention-old.mjs" ]; then
  timeout 120 node "$bundle/attention-old.mjs" --json "$out/attention-previous.json" 2>&1 | grep -v Warning | tee "$out/attention-previous.log"
fi
timeout 300 node "$bundle/attention-bench.mjs" --json "$out/attention-webgpu.json" "$@" 2>&1 | grep -v Warning | tee "$out/attention-webgpu.log"
timeout 120 python3 bench/torch_attention.py --json "$out/attention-torch.json" --webgpu "$out/attention-webgpu.json" 2>&1 | grep -v Warn | tee "$out/attention-torch.log"
