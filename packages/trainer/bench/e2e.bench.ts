/**
 * The device-machine entry of `dynconv bench e2e` (`src/e2e/`): the same
 * benchmark configured from the environment, bundled into one file.
 *
 * Bundle and run (see docs/results/e2e.md):
 *   esbuild packages/trainer/bench/e2e.bench.ts --bundle --platform=node --format=esm \
 *     --external:webgpu --conditions=@dynconv/source --outfile=DIR/e2e.mjs
 *   BENCH_OUT=out node DIR/e2e.mjs
 *
 * Env: E2E_LAYERS (12), E2E_DMODEL (768), E2E_HEADS (12), E2E_HIDDEN (2048),
 * E2E_VOCAB (50304), E2E_BATCH (8), E2E_SEQ (1024), E2E_STEPS (8 timed),
 * E2E_WARMUP (1), E2E_VARIANTS (plain,dsc), E2E_MODES (f32,mixed),
 * E2E_BUDGET_S (stop starting new configurations after this many seconds),
 * E2E_PROFILE=1 (after the timed steps, one more step with every dispatch
 * timed on the GPU; prints the kernels by GPU time, grouped by pipeline key),
 * E2E_HOST_SYNC=1 (read loss and norm back in every step and decide clipping
 * and loss scaling on the host, as session 3 did; default: decided on the GPU
 * by `DeviceStepControl`, records read E2E_IN_FLIGHT (2) steps later).
 */
import { E2E_DEFAULTS, type E2eMode, type E2eVariant, runE2eBenchmark } from '../src/e2e/index.js';

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v ? Number.parseInt(v, 10) : fallback;
};
const envList = <T extends string>(name: string, fallback: readonly T[]): T[] =>
  process.env[name] ? (process.env[name]!.split(',').filter(Boolean) as T[]) : [...fallback];

const d = E2E_DEFAULTS;
const outDir = process.env.BENCH_OUT ?? 'bench-results';
await runE2eBenchmark(
  {
    layers: envInt('E2E_LAYERS', d.layers),
    dModel: envInt('E2E_DMODEL', d.dModel),
    heads: envInt('E2E_HEADS', d.heads),
    mlpHidden: envInt('E2E_HIDDEN', d.mlpHidden),
    vocab: envInt('E2E_VOCAB', d.vocab),
    batch: envInt('E2E_BATCH', d.batch),
    seqLen: envInt('E2E_SEQ', d.seqLen),
    steps: envInt('E2E_STEPS', d.steps),
    warmup: envInt('E2E_WARMUP', d.warmup),
    variants: envList<E2eVariant>('E2E_VARIANTS', d.variants),
    modes: envList<E2eMode>('E2E_MODES', d.modes),
    hostSync: process.env.E2E_HOST_SYNC === '1',
    inFlight: envInt('E2E_IN_FLIGHT', d.inFlight),
    profile: process.env.E2E_PROFILE === '1',
    budgetS: envInt('E2E_BUDGET_S', d.budgetS),
  },
  { outDir, log: (line) => console.log(line) },
);
console.log(`wrote ${outDir}/e2e-webgpu.json`);
