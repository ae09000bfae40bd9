#!/usr/bin/env bash
# Round 3 device command (repository root; carry .device, packages/tensor/dist-bundle/norm3 and
# packages/tensor/dist-bundle/ew). Here first:
#   esbuild docs/results/ew-h100-session3/round3/norm-bench.ts -> packages/tensor/dist-bundle/norm3/bench.mjs
#   bash packages/layers/bench/ew-bundle.sh
set -u
source .device/prelude.sh
mkdir -p packages/tensor/node_modules
ln -sfn "$PWD/.device/node_modules/webgpu" packages/tensor/node_modules/webgpu
OUT=${OUT:-/tmp/norm3-out}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
start=$SECONDS
timeout 40 node packages/tensor/dist-bundle/norm3/bench.mjs 2>&1 | grep -v artificially | tee "$OUT/norm-bench.log"
echo "=== bench ($((SECONDS - start)) s)"
timeout 30 python3 docs/results/ew-h100-session3/round3/torch_norm.py 2>&1 | tee "$OUT/torch-norm.log"
echo "=== torch ($((SECONDS - start)) s)"
if [ "${E2E:-1}" = 1 ]; then
  mkdir -p "$OUT/e2e"
  E2E_VARIANTS=plain E2E_MODES=f32 E2E_PROFILE=1 BENCH_OUT=$OUT/e2e timeout 50 node packages/tensor/dist-bundle/ew/e2e.mjs 2>&1 |
    grep -v artificially | tee "$OUT/e2e/e2e.log" | grep -E "ms/step|tokens|norm|profile|loss" | head -30
  echo "=== e2e ($((SECONDS - start)) s)"
fi
