#!/usr/bin/env bash
# Short-conv benchmarks on the GPU machine, one device call (from the repository root):
#   bash packages/kernels-webgpu/bench/device-conv.sh [parts] [conv] [torch] [mixers]
# Carry: .device and packages/kernels-webgpu/dist-bundle (esbuild of bench/conv.ts and
# bench/lowrank-parts.ts and bench/mixers.bench.ts, as the package's bench:* scripts do).
set -uo pipefail
source .device/prelude.sh
mkdir -p packages/kernels-webgpu/node_modules
ln -sfn "$PWD/.device/node_modules/webgpu" packages/kernels-webgpu/node_modules/webgpu
out=${OUT:-/tmp/device-conv}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"
cd packages/kernels-webgpu
for part in "$@"; do
  case $part in
    parts) timeout 240 node dist-bundle/lowrank-parts.mjs --json "$out/lowrank-parts.json" ${PARTS_ARGS:-} 2>&1 | grep -v Warning | grep -v '^{' ;;
    conv) timeout 240 node dist-bundle/conv-bench.mjs --json "$out/conv.json" ${CONV_ARGS:-} 2>&1 | grep -v Warning | tail -20 ;;
    torch) timeout 240 python3 bench/torch_conv.py 2>&1 | grep -v Warn | tail -20 ;;
    mixers) timeout 240 node dist-bundle/mixers-bench.mjs --json "$out/mixers.json" 2>&1 | grep -v Warning | tail -25 ;;
  esac
done
