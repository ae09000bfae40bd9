#!/usr/bin/env bash
# Issue 9 measurements in one device command (every baseline in the same run):
# matmul device tests, the matmul-variant benchmark + PyTorch matmul baseline,
# and the end-to-end training step (WebGPU, then PyTorch on the same GPU).
#
# Here:   packages/tensor/bench/bundle.sh packages/tensor/dist-bundle
# Device: (run tool, carry .device and packages/tensor/dist-bundle, from the repository root)
#         bash packages/tensor/bench/perf-run.sh
# Logs and JSON go to $OUT. Env: RUN=tests,bench,e2e,torch,compile (subset; `host` adds the host
# recording benchmark, bench/host-recording.ts, at the runtime's default batch of 512), T_* time limits,
# E2E_* (see packages/trainer/bench/e2e.bench.ts), TORCH_COMPILE=1.
set -u
source .device/prelude.sh
mkdir -p packages/tensor/node_modules
ln -sfn "$PWD/.device/node_modules/webgpu" packages/tensor/node_modules/webgpu
root=$PWD
cd packages/tensor
OUT=${OUT:-/tmp/perf-out}
mkdir -p "$OUT"
RUN=${RUN:-tests,bench,e2e,torch,compile}
has() { [[ ",$RUN," == *",$1,"* ]]; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
# Other processes on the GPU would skew every number: list them before and after.
tenants() { echo "--- GPU processes ($1):"; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader; }
tenants start
start=$SECONDS
if has tests; then
  DYNCONV_TEST=1 DEVICE_TESTS_FILTER=${DEVICE_TESTS_FILTER:-matmul} timeout "${T_TESTS:-60}" \
    node dist-bundle/device-tests.mjs >"$OUT/device-tests.log" 2>&1
  echo "=== device tests rc $? ($((SECONDS - start)) s)"
  grep -v '^  ok' "$OUT/device-tests.log" | grep -v 'artificially' | tail -30
fi
if has bench; then
  BENCH_SECTIONS=${BENCH_SECTIONS:-variants} BENCH_OUT=$OUT timeout "${T_BENCH:-100}" node dist-bundle/bench.mjs 2>&1 |
    grep -v 'artificially' | tee "$OUT/bench.log"
  echo "=== bench ($((SECONDS - start)) s)"
  BENCH_OUT=$OUT timeout "${T_TORCH_BASE:-40}" python3 bench/torch_baseline.py 2>&1 | tee "$OUT/torch-baseline.log"
  echo "=== torch baseline ($((SECONDS - start)) s)"
fi
if has host; then
  HOST_MAX_BATCH=512 HOST_OUT=$OUT/host-recording.json timeout "${T_HOST:-90}" node dist-bundle/host-recording.mjs 2>&1 |
    grep -v 'artificially' | tee "$OUT/host-recording.log"
  echo "=== host recording ($((SECONDS - start)) s)"
fi
if has e2e; then
  BENCH_OUT=$OUT timeout "${T_E2E:-130}" node dist-bundle/e2e.mjs 2>&1 | grep -v 'artificially' | tee "$OUT/e2e.log"
  echo "=== e2e webgpu ($((SECONDS - start)) s)"
fi
if has torch; then
  BENCH_OUT=$OUT timeout "${T_TORCH:-70}" python3 "$root/packages/trainer/bench/torch_e2e.py" 2>&1 | tee "$OUT/torch-e2e.log"
  echo "=== e2e torch ($((SECONDS - start)) s)"
fi
if has compile; then
  # torch.compile of the plain model only (compiling takes most of a minute).
  E2E_VARIANTS=plain TORCH_MODES=compile TORCH_E2E_TAG=-compile BENCH_OUT=$OUT timeout "${T_COMPILE:-100}" \
    python3 "$root/packages/trainer/bench/torch_e2e.py" 2>&1 | grep -v Warning | tee "$OUT/torch-e2e-compile.log"
  echo "=== e2e torch.compile ($((SECONDS - start)) s)"
fi
tenants end
