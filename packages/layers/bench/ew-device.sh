#!/usr/bin/env bash
# The fused-elementwise measurements in one device command (baseline in the same run):
# the fused-layer device tests, then the e2e training step (packages/trainer/bench/e2e.bench.ts,
# f32, plain and DSC, with the per-dispatch profile) with the fusions off (DYNCONV_LAYER_FUSION=0 and
# DYNCONV_FUSED_GRAD_NORM=0: the composed ops, as before) and on, then PyTorch on the same models.
#
# Here:   bash packages/layers/bench/ew-bundle.sh
# Device: (run tool, carry .device and packages/tensor/dist-bundle/ew) bash packages/layers/bench/ew-device.sh
set -u
source .device/prelude.sh
mkdir -p packages/tensor/node_modules
ln -sfn "$PWD/.device/node_modules/webgpu" packages/tensor/node_modules/webgpu
OUT=${OUT:-/tmp/ew-out}
dir=packages/tensor/dist-bundle/ew
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader
start=$SECONDS
DYNCONV_TEST=1 timeout 60 node $dir/fused-tests.mjs 2>&1 | grep -v artificially | tee "$OUT/fused-tests.log" | tail -25
echo "=== fused tests ($((SECONDS - start)) s)"
export E2E_VARIANTS=${E2E_VARIANTS:-plain,dsc} E2E_MODES=${E2E_MODES:-f32} E2E_PROFILE=${E2E_PROFILE:-1}
for f in 0 1; do
  mkdir -p "$OUT/fusion-$f"
  DYNCONV_LAYER_FUSION=$f DYNCONV_FUSED_GRAD_NORM=$f BENCH_OUT=$OUT/fusion-$f timeout 100 node $dir/e2e.mjs 2>&1 | grep -v artificially |
    tee "$OUT/fusion-$f/e2e.log"
  echo "=== e2e fusion=$f ($((SECONDS - start)) s)"
done
BENCH_OUT=$OUT/fusion-1 TORCH_MODES=f32 timeout 90 python3 packages/trainer/bench/torch_e2e.py 2>&1 | tee "$OUT/torch-e2e.log"
echo "=== torch ($((SECONDS - start)) s)"
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader
