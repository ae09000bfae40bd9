#!/usr/bin/env bash
# Issue 8 research workflows on the GPU machine (or, with SIZE=tiny, here on the CPU as a dry run).
#
#   bash docs/results/research-device.sh <mqar|scaling|lm> [size]
#
# From the repository root. On the device machine (where $OUT is set) it first sources
# .device/prelude.sh (Node, Dawn's webgpu package, GL/Vulkan loaders) and links webgpu next to the
# CLI bundle. Needs, carried: .device, apps/cli/dist-bundle (pnpm --filter @dynconv/cli build),
# and for `scaling`/`lm` the corpus runs/device/corpus (see README.md). Copies the reports and raw
# JSONL into $OUT (at most 8 files, flat names).
set -euo pipefail
part=${1:?usage: research-device.sh <mqar|scaling|lm> [size]}
size=${2:-h100}
if [ -n "${OUT:-}" ] && [ -f .device/prelude.sh ]; then
  # shellcheck disable=SC1091
  source .device/prelude.sh
  mkdir -p apps/cli/node_modules
  ln -sfn "$PWD/.device/node_modules/webgpu" apps/cli/node_modules/webgpu
fi
out=${OUT:-runs/device-out/$part-$size}
work=${WORK:-/tmp/dynconv-research/$size}
mkdir -p "$out" "$work"
dynconv() { node apps/cli/dist-bundle/dynconv.mjs "$@"; }
keep() { # keep <folder> <prefix>: the study's report and raw JSONL, flattened into $OUT
  for f in report.html report.md results.jsonl summary.jsonl; do
    [ -f "$1/$f" ] && cp "$1/$f" "$out/$2-$f"
  done
  return 0
}
started=$(date +%s)
case $part in
  mqar)
    # Resumable across device calls: the study's state lives in runs/device-work/mqar-<size>
    # (carry it back in), the study stops after BUDGET seconds, and the state without
    # checkpoints (finished runs are recorded in sweep.sqlite) is packed into $OUT.
    state=runs/device-work/mqar-$size
    mkdir -p "$state"
    code=0
    timeout -k 20 -s INT "${BUDGET:-100000}" node apps/cli/dist-bundle/dynconv.mjs study mqar --size "$size" \
      --slots "${SLOTS:-8}" --out "$state" || code=$?
    pkill -f dynconv.mjs || true
    find "$state" -name checkpoints -type d -prune -exec rm -rf {} +
    tar -czf "$out/mqar-state.tgz" -C runs/device-work "mqar-$size"
    keep "$state" mqar
    [ "$code" = 0 ] || echo "mqar stopped (exit $code); rerun with the state carried to resume"
    ;;
  scaling)
    dynconv study scaling --size "$size" --corpus runs/device/corpus --slots "${SLOTS:-4}" --out "$work/scaling"
    keep "$work/scaling" scaling
    ;;
  lm)
    # One full-attention teacher on the corpus, then the two studies that start from it.
    dynconv train --config "docs/results/configs/lm-teacher-$size.json" --run-dir "$work/teacher" --quiet
    cp "$work/teacher/metrics.jsonl" "$out/teacher-metrics.jsonl"
    dynconv study preproj --base "$work/teacher" --size "$size" --out "$work/preproj"
    dynconv dtr --checkpoint "$work/teacher" --size "$size" --out "$work/dtr"
    for f in report.html report.md results.jsonl; do
      cp "$work/preproj/$f" "$out/preproj-$f"
      cp "$work/dtr/$f" "$out/dtr-$f"
    done
    ;;
  *)
    echo "unknown part '$part' (mqar, scaling, lm)" >&2
    exit 2
    ;;
esac
echo "$part ($size) finished in $(($(date +%s) - started)) s; files in $out"
