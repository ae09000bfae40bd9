#!/usr/bin/env bash
# Issue 4 and 5 benchmarks on the GPU machine, one device call.
#   bash docs/results/device-benches.sh
# Carry: .device, apps/cli/dist-bundle, packages/kernels-webgpu/dist-bundle
# (pnpm --filter @dynconv/cli build; esbuild of bench/mixers.bench.ts, see the package's bench:mixers script).
set -uo pipefail
source .device/prelude.sh
for d in apps/cli packages/kernels-webgpu; do
  mkdir -p $d/node_modules && ln -sfn "$PWD/.device/node_modules/webgpu" $d/node_modules/webgpu
done
out=${OUT:-/tmp/device-benches}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
# Issue 4: training step (fwd + bwd + AdamW) of the 12-layer d=768 T=1024 B=8 model per variant.
for v in baseline static dsc dsc-all; do
  timeout 120 node apps/cli/dist-bundle/dynconv.mjs bench --config docs/results/configs/e2e-h100-$v.json \
    --device webgpu --steps 6 --warmup 2 --json > "$out/e2e-$v.json" 2> "$out/e2e-$v.err"
  echo "$v: $(tr -d '\n ' < "$out/e2e-$v.json" | head -c 400)"
done
# Issue 5: tokens/s of a training step per mixer at T=4096.
(cd packages/kernels-webgpu && timeout 200 node dist-bundle/mixers-bench.mjs --json "$out/mixers.json" 2>&1 | grep -v Warning | tail -25)
