/**
 * `bench e2e`: throughput of the full training step (forward, cross-entropy,
 * backward, global-norm clipping, fused AdamW) of a Llama-style transformer
 * on the WebGPU backend, plain and with DSC on Q/K/V, in f32 and in mixed
 * precision (f16 tensor-core matmuls with f32 accumulation, f32 activations
 * and master weights, dynamic loss scaling). Prints a table and writes
 * `$BENCH_OUT/e2e-webgpu.json`; `bench/torch_e2e.py` (same model, same run)
 * reads it and prints the ratios.
 *
 * Bundle and run (see docs/results/e2e.md):
 *   esbuild packages/trainer/bench/e2e.bench.ts --bundle --platform=node --format=esm \
 *     --external:webgpu --conditions=@dynconv/source --outfile=DIR/e2e.mjs
 *   BENCH_OUT=out node DIR/e2e.mjs
 *
 * Env: E2E_LAYERS (12), E2E_DMODEL (768), E2E_HEADS (12), E2E_HIDDEN (2048),
 * E2E_VOCAB (50304), E2E_BATCH (8), E2E_SEQ (1024), E2E_STEPS (3 timed),
 * E2E_WARMUP (1), E2E_VARIANTS (plain,dsc), E2E_MODES (f32,mixed),
 * E2E_BUDGET_S (stop starting new configurations after this many seconds),
 * E2E_PROFILE=1 (after the timed steps, one more step with every dispatch
 * timed on the GPU; prints the kernels by GPU time, grouped by pipeline key),
 * E2E_HOST_SYNC=1 (read loss and norm back in every step and decide clipping
 * and loss scaling on the host, as session 3 did; default: decided on the GPU
 * by `DeviceStepControl`, records read E2E_IN_FLIGHT (2) steps later).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeConfig, type TransformerConfig, transformer } from '@dynconv/architectures';
import { crossEntropy, noGrad, tensor, tidy } from '@dynconv/tensor';
import { type KernelTime, requestNodeGpuDevice, WebGPUBackend } from '@dynconv/tensor/node';
import { AdamW } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { clipScale, globalGradNorm } from '../src/optim/clip.js';
import { DeviceStepControl, type DeviceStepRecord, readRecord } from '../src/optim/device-step-webgpu.js';
import { paramGroups } from '../src/optim/param-groups.js';

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v ? Number.parseInt(v, 10) : fallback;
};
const envList = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback).split(',').filter(Boolean);

const shape = {
  nLayers: envInt('E2E_LAYERS', 12),
  dModel: envInt('E2E_DMODEL', 768),
  nHeads: envInt('E2E_HEADS', 12),
  mlpHidden: envInt('E2E_HIDDEN', 2048),
  vocabSize: envInt('E2E_VOCAB', 50304),
};
const fullBatch = envInt('E2E_BATCH', 8);
const seqLen = envInt('E2E_SEQ', 1024);
const steps = envInt('E2E_STEPS', 3);
const warmup = envInt('E2E_WARMUP', 1);
const budgetMs = envInt('E2E_BUDGET_S', 240) * 1000;
/** The session-3 loop: a read-back and host decision in every step (the baseline of the device-decided loop). */
const hostSync = process.env.E2E_HOST_SYNC === '1';
/** Steps the host may record ahead of the last one it has read back. */
const inFlight = envInt('E2E_IN_FLIGHT', 2);

/** Dense peaks of the H100 SXM (NVIDIA datasheet): MFU denominators. */
const PEAK = { f32: 67e12, f16TensorCore: 989e12 } as const;

type Mode = 'f32' | 'mixed';
type Variant = 'plain' | 'dsc';

interface Row {
  variant: Variant;
  mode: Mode;
  /** Sequences per step (half the asked batch when the full one failed). */
  batch: number;
  parameters: number;
  tokensPerStep: number;
  msPerStep: number;
  tokensPerSec: number;
  flopsPerToken: number;
  /** Model FLOP/s over the dense f16 tensor-core peak (the figure PyTorch's MFU uses). */
  mfuTensor: number;
  /** Over the f32 SIMT peak (meaningful for the f32 mode). */
  mfuF32: number;
  dispatchesPerStep: number;
  submitsPerStep: number;
  compilesAfterFirstStep: number;
  /** Wall time of recording a step (JS + Dawn encoding), of the step's wall time. */
  recordMsPerStep: number;
  /** Where clipping and loss scaling were decided: `device` (no read-back in a step) or `host`. */
  loop: 'device' | 'host';
  losses: number[];
  lossScale?: number;
  skippedSteps?: number;
  error?: string;
}

const configFor = (variant: Variant): TransformerConfig =>
  decodeConfig(transformer.configSchema, {
    ...shape,
    tieEmbeddings: false,
    ...(variant === 'dsc' ? { conv: 'dynamic-qkv' } : {}),
  });

/** Deterministic token ids (a fixed batch: data loading is not what is timed). */
const tokenIds = (n: number, vocab: number, salt: number): Int32Array => {
  const out = new Int32Array(n);
  let s = 0x9e3779b9 ^ salt;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % vocab;
  }
  return out;
};

async function runConfig(b: WebGPUBackend, variant: Variant, mode: Mode, batch: number): Promise<Row> {
  const config = configFor(variant);
  const rt = b.runtime;
  b.tuning.matmul = mode === 'mixed' ? { reducedPrecision: true } : {};
  const model = transformer.build(config, { backend: b, seed: 1 });
  const trainable = model.parameters;
  const adamw = new AdamW(
    trainable,
    paramGroups(trainable, model.noDecay, 0.1),
    { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    makeFusedAdamWUpdate(rt),
  );
  const n = batch * seqLen;
  const ids = tensor(tokenIds(n, config.vocabSize, 1), { shape: [batch, seqLen], dtype: 'i32', backend: b });
  const targets = tensor(tokenIds(n, config.vocabSize, 2), {
    shape: [batch, seqLen],
    dtype: 'i32',
    backend: b,
  });
  const losses: number[] = [];
  let recordMs = 0;
  let skipped = 0;
  let scale = mode === 'mixed' ? 2 ** 16 : 1;
  let step: () => Promise<void>;
  let drain = async (): Promise<void> => {};
  const control = hostSync
    ? null
    : new DeviceStepControl(b, {
        maxNorm: 1,
        beta1: 0.9,
        beta2: 0.95,
        ...(mode === 'mixed' ? { lossScale: { initial: 2 ** 16, growthInterval: 100 } } : {}),
      });
  if (control) {
    // Clip, overflow skip and loss scale decided on the GPU: the host reads each step's record
    // `inFlight` steps later, so it records step n+1 while the GPU runs step n.
    const pending: Promise<DeviceStepRecord>[] = [];
    const settle = (r: DeviceStepRecord) => {
      losses.push(r.loss);
      if (!r.finite) skipped++;
      scale = r.lossScale;
    };
    step = async () => {
      const t0 = performance.now();
      const loss = tidy(() => {
        const logits = model.forward({ ids }, { training: true });
        const ce = crossEntropy(logits, targets);
        (mode === 'mixed' ? ce.mul(control.lossScale) : ce).backward();
        return ce.detach();
      });
      const norm = globalGradNorm(trainable.values());
      const record = control.decide(loss, norm);
      adamw.stepOnDevice(3e-4, control.control);
      noGrad(() => {
        for (const p of trainable.values()) p.zeroGrad();
      });
      recordMs += performance.now() - t0;
      pending.push(readRecord(record));
      for (const t of [loss, norm, record]) t.dispose();
      if (pending.length > inFlight) settle(await pending.shift()!);
    };
    drain = async () => {
      while (pending.length > 0) settle(await pending.shift()!);
    };
  } else {
    // The loop of session 3: read loss and norm every step, decide on the host (a full GPU sync per step).
    let good = 0;
    step = async () => {
      const t0 = performance.now();
      const loss = tidy(() => {
        const logits = model.forward({ ids }, { training: true });
        const ce = crossEntropy(logits, targets);
        (scale === 1 ? ce : ce.mul(scale)).backward();
        return ce.detach();
      });
      const norm = globalGradNorm(trainable.values());
      recordMs += performance.now() - t0;
      const [lossValue, scaledNorm] = [await loss.item(), await norm.item()];
      loss.dispose();
      norm.dispose();
      const gradNorm = scaledNorm / scale;
      if (Number.isFinite(gradNorm)) {
        const t1 = performance.now();
        adamw.step(3e-4, clipScale(gradNorm, 1) / scale);
        recordMs += performance.now() - t1;
        if (mode === 'mixed' && ++good % 100 === 0) scale *= 2;
      } else {
        skipped++;
        scale /= 2;
      }
      noGrad(() => {
        for (const p of trainable.values()) p.zeroGrad();
      });
      losses.push(lossValue);
    };
  }
  try {
    for (let i = 0; i < warmup; i++) await step();
    await drain();
    await b.sync();
    recordMs = 0;
    const before = rt.stats();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    await drain();
    await b.sync();
    const ms = (performance.now() - t0) / steps;
    const after = rt.stats();
    if (process.env.E2E_PROFILE === '1' && rt.startProfile()) {
      await step();
      await drain();
      printProfile(`${variant} ${mode}`, await rt.stopProfile(), ms);
    }
    const flopsPerToken = transformer.flopsPerToken(config, seqLen);
    const tokensPerSec = (n * 1000) / ms;
    return {
      variant,
      mode,
      batch,
      parameters: transformer.parameterCount(config),
      tokensPerStep: n,
      msPerStep: ms,
      tokensPerSec,
      flopsPerToken,
      mfuTensor: (flopsPerToken * tokensPerSec) / PEAK.f16TensorCore,
      mfuF32: (flopsPerToken * tokensPerSec) / PEAK.f32,
      dispatchesPerStep: (after.dispatches - before.dispatches) / steps,
      submitsPerStep: (after.submits - before.submits) / steps,
      compilesAfterFirstStep: after.pipelineCompiles - before.pipelineCompiles,
      recordMsPerStep: recordMs / steps,
      loop: hostSync ? 'host' : 'device',
      losses,
      ...(mode === 'mixed' ? { lossScale: scale, skippedSteps: skipped } : {}),
    };
  } finally {
    ids.dispose();
    targets.dispose();
    adamw.dispose();
    control?.dispose();
    model.dispose();
    b.tuning.matmul = {};
    rt.trim();
  }
}

/**
 * The profiled step's GPU time by kernel family (the pipeline key up to its
 * first '|'), largest first, beside the timed step's wall time. Keys are the
 * kernels' own names (matmul variants, elementwise ops, conv/attention kernels).
 */
function printProfile(label: string, byKey: Map<string, KernelTime>, stepMs: number): void {
  const families = new Map<string, { dispatches: number; ms: number; keys: number }>();
  let total = 0;
  for (const [key, t] of byKey) {
    const family = key.split('|')[0]!;
    const f = families.get(family) ?? { dispatches: 0, ms: 0, keys: 0 };
    f.dispatches += t.dispatches;
    f.ms += t.ms;
    f.keys++;
    families.set(family, f);
    total += t.ms;
  }
  console.log(
    `profile ${label}: ${total.toFixed(1)} ms of GPU time in dispatches (timed step ${stepMs.toFixed(1)} ms wall)`,
  );
  for (const [family, f] of [...families].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
    console.log(
      `  ${family.padEnd(34)} ${f.ms.toFixed(2).padStart(8)} ms  ${((100 * f.ms) / total).toFixed(1).padStart(5)} %  ${String(f.dispatches).padStart(5)} dispatches  ${f.keys} keys`,
    );
  console.log('  top pipelines:');
  for (const [key, t] of [...byKey].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30))
    console.log(
      `  ${t.ms.toFixed(2).padStart(8)} ms  ${String(t.dispatches).padStart(5)} ×  ${key.slice(0, 110)}`,
    );
}

async function main(): Promise<void> {
  const opened = await requestNodeGpuDevice();
  const info = opened.adapterInfo;
  const device = `${info.vendor} ${info.architecture} ${info.description || info.device}`.trim();
  const limits = opened.device.limits;
  console.log(
    `device: ${device}; maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}; ` +
      `subgroup matrices: ${opened.matmulCaps.subgroupMatrix ? 'yes' : 'no'} (${opened.matmulCaps.subgroupMatrixNote})`,
  );
  console.log(
    `model: ${shape.nLayers} layers, d=${shape.dModel}, ${shape.nHeads} heads, SwiGLU ${shape.mlpHidden}, vocab ${shape.vocabSize}, untied; B=${fullBatch}, T=${seqLen}; ${warmup} warm-up + ${steps} timed steps`,
  );
  const b = new WebGPUBackend(opened.device, { poison: false, onDestroy: () => opened.device.destroy() });
  const rows: Row[] = [];
  const outDir = process.env.BENCH_OUT ?? 'bench-results';
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'e2e-webgpu.json');
  // Written after every configuration, so a run cut short by a time limit keeps what it measured.
  const save = () =>
    writeFileSync(
      file,
      `${JSON.stringify({ device, shape, batch: fullBatch, seqLen, steps, warmup, matmulCaps: opened.matmulCaps, peak: PEAK, rows }, null, 2)}\n`,
    );
  const started = performance.now();
  for (const variant of envList('E2E_VARIANTS', 'plain,dsc') as Variant[])
    for (const mode of envList('E2E_MODES', 'f32,mixed') as Mode[]) {
      for (const batch of [...new Set([fullBatch, Math.max(1, Math.floor(fullBatch / 2))])]) {
        if (performance.now() - started > budgetMs) {
          console.log(`skip ${variant} ${mode}: over the ${budgetMs / 1000} s budget`);
          break;
        }
        try {
          const row = await runConfig(b, variant, mode, batch);
          rows.push(row);
          console.log(
            `${variant.padEnd(6)} ${mode.padEnd(6)} B=${batch} ${(row.parameters / 1e6).toFixed(1)}M params  ${row.msPerStep.toFixed(1).padStart(8)} ms/step  ` +
              `${Math.round(row.tokensPerSec).toString().padStart(8)} tok/s  MFU ${(100 * row.mfuTensor).toFixed(1)}% of 989T (${(100 * row.mfuF32).toFixed(1)}% of f32 67T)  ` +
              `${row.dispatchesPerStep} dispatches/step, ${row.submitsPerStep.toFixed(1)} submits, record ${row.recordMsPerStep.toFixed(1)} ms (${row.loop} loop), ` +
              `${row.compilesAfterFirstStep} compiles after step 1; losses ${row.losses.map((l) => l.toFixed(3)).join(' ')}` +
              (row.lossScale !== undefined
                ? `; loss scale ${row.lossScale}, skipped ${row.skippedSteps}`
                : ''),
          );
          break;
        } catch (error) {
          const message = (error as Error).message.split('\n').slice(0, 4).join(' | ');
          console.log(`${variant} ${mode} B=${batch}: FAILED ${message}`);
          rows.push({ variant, mode, batch, error: message } as Row);
          await b.sync().catch(() => undefined);
          b.runtime.trim();
          if (process.env.E2E_FALLBACK === '0') break;
        } finally {
          save();
        }
      }
    }
  b.destroy();
  console.log(`wrote ${file}`);
}

await main();
