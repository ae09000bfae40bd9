import { transformer } from '@dynconv/architectures';
import { crossEntropy, noGrad, type Tensor, tensor, tidy } from '@dynconv/tensor';
import type { WebGPUBackend } from '@dynconv/tensor/node';
import type { ModelV1 } from '../model/spec.js';
import { AdamW } from '../optim/adamw.js';
import { makeFusedAdamWUpdate } from '../optim/adamw-webgpu.js';
import { clipScale, globalGradNorm } from '../optim/clip.js';
import { DeviceStepControl, type DeviceStepRecord, readRecord } from '../optim/device-step-webgpu.js';
import { paramGroups } from '../optim/param-groups.js';
import { type PreparedBatch, recordDeviceStep } from '../train/step.js';
import { type E2eMode, type E2eOptions, type E2eVariant, e2eModelConfig, e2eTokenIds } from './options.js';
import { profileLines } from './profile.js';

/** Dense peaks of the H100 SXM (NVIDIA datasheet): the MFU denominators. */
export const E2E_PEAK = { f32: 67e12, f16TensorCore: 989e12 } as const;

/** One measured configuration. */
export interface E2eRow {
  readonly variant: E2eVariant;
  readonly mode: E2eMode;
  /** Sequences per step (half the asked batch when the full one failed). */
  readonly batch: number;
  readonly parameters: number;
  readonly tokensPerStep: number;
  readonly msPerStep: number;
  readonly tokensPerSec: number;
  readonly flopsPerToken: number;
  /** Model FLOP/s over the dense f16 tensor-core peak (the figure PyTorch's MFU uses). */
  readonly mfuTensor: number;
  /** Over the f32 SIMT peak (meaningful for the f32 mode). */
  readonly mfuF32: number;
  readonly dispatchesPerStep: number;
  readonly submitsPerStep: number;
  readonly compilesAfterFirstStep: number;
  /** Wall time of recording a step (JS + Dawn encoding), of the step's wall time. */
  readonly recordMsPerStep: number;
  /** Where clipping and loss scaling were decided: `device` (no read-back in a step) or `host`. */
  readonly loop: 'device' | 'host';
  /** Losses of every step, warm-up included. */
  readonly losses: number[];
  readonly lossScale?: number;
  readonly skippedSteps?: number;
  /** The profiled step's report (`profile` option). */
  readonly profile?: string[];
}

/** The training-step closure of one loop kind, and how to wait for its outstanding read-backs. */
interface StepLoop {
  readonly step: () => Promise<void>;
  readonly drain: () => Promise<void>;
  readonly lossScale: () => number;
  readonly skipped: () => number;
  readonly recordMs: { value: number };
  dispose(): void;
}

interface StepParts {
  readonly b: WebGPUBackend;
  readonly model: ModelV1;
  /** The fixed batch, on the device for the whole run. */
  readonly fixed: PreparedBatch;
  /** Host loop: forward and backward of the loss times `lossScale`; returns the unscaled loss. */
  readonly forwardLoss: (lossScale: number) => Tensor;
  readonly trainable: ReadonlyMap<string, Tensor>;
  readonly adamw: AdamW;
  readonly mode: E2eMode;
  readonly losses: number[];
}

const LR = 3e-4;
const clearGradients = (trainable: ReadonlyMap<string, Tensor>) =>
  noGrad(() => {
    for (const p of trainable.values()) p.zeroGrad();
  });

/**
 * Clip, overflow skip and loss scale decided on the GPU: the host reads each
 * step's record `inFlight` steps later, so it records step n+1 while the GPU
 * runs step n. The step is the trainer's own (`recordDeviceStep`), on the
 * fixed batch already on the device.
 */
function deviceLoop(s: StepParts, inFlight: number): StepLoop {
  const control = new DeviceStepControl(s.b, {
    maxNorm: 1,
    beta1: 0.9,
    beta2: 0.95,
    ...(s.mode === 'mixed' ? { lossScale: { initial: 2 ** 16, growthInterval: 100 } } : {}),
  });
  const pending: Promise<DeviceStepRecord>[] = [];
  const recordMs = { value: 0 };
  let skipped = 0;
  let scale = s.mode === 'mixed' ? 2 ** 16 : 1;
  const settle = (r: DeviceStepRecord) => {
    s.losses.push(r.loss);
    if (!r.finite) skipped++;
    scale = r.lossScale;
  };
  return {
    step: async () => {
      const t0 = performance.now();
      const { record } = recordDeviceStep({
        model: s.model,
        trainable: s.trainable,
        optimizer: s.adamw,
        lr: LR,
        control,
        batches: [s.fixed],
      });
      // Recording only: the read below submits the step, which the record time leaves out.
      recordMs.value += performance.now() - t0;
      pending.push(readRecord(record));
      record.dispose();
      if (pending.length > inFlight) settle(await pending.shift()!);
    },
    drain: async () => {
      while (pending.length > 0) settle(await pending.shift()!);
    },
    lossScale: () => scale,
    skipped: () => skipped,
    recordMs,
    dispose: () => control.dispose(),
  };
}

/** The session-3 loop: read loss and norm every step and decide on the host (a full GPU sync per step). */
function hostLoop(s: StepParts): StepLoop {
  const recordMs = { value: 0 };
  let skipped = 0;
  let good = 0;
  let scale = s.mode === 'mixed' ? 2 ** 16 : 1;
  return {
    step: async () => {
      const t0 = performance.now();
      const loss = s.forwardLoss(scale);
      const norm = globalGradNorm(s.trainable.values());
      recordMs.value += performance.now() - t0;
      const [lossValue, scaledNorm] = [await loss.item(), await norm.item()];
      loss.dispose();
      norm.dispose();
      const gradNorm = scaledNorm / scale;
      if (Number.isFinite(gradNorm)) {
        const t1 = performance.now();
        s.adamw.step(LR, clipScale(gradNorm, 1) / scale);
        recordMs.value += performance.now() - t1;
        if (s.mode === 'mixed' && ++good % 100 === 0) scale *= 2;
      } else {
        skipped++;
        scale /= 2;
      }
      clearGradients(s.trainable);
      s.losses.push(lossValue);
    },
    drain: async () => {},
    lossScale: () => scale,
    skipped: () => skipped,
    recordMs,
    dispose: () => {},
  };
}

/**
 * Builds the model of `variant`, trains `warmup + steps` steps on a fixed
 * batch of `batch` sequences in `mode`, and measures the timed ones.
 */
export async function runE2eConfig(
  b: WebGPUBackend,
  o: E2eOptions,
  variant: E2eVariant,
  mode: E2eMode,
  batch: number,
): Promise<E2eRow> {
  const config = e2eModelConfig(o, variant);
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
  const n = batch * o.seqLen;
  const shape = [batch, o.seqLen];
  const ids = tensor(e2eTokenIds(n, config.vocabSize, 1), { shape, dtype: 'i32', backend: b });
  const targets = tensor(e2eTokenIds(n, config.vocabSize, 2), { shape, dtype: 'i32', backend: b });
  const losses: number[] = [];
  const forwardLoss = (lossScale: number) =>
    tidy(() => {
      const logits = model.forward({ ids }, { training: true });
      const ce = crossEntropy(logits, targets);
      (lossScale === 1 ? ce : ce.mul(lossScale)).backward();
      return ce.detach();
    });
  const fixed: PreparedBatch = { input: { ids }, targets };
  const parts: StepParts = { b, model, fixed, forwardLoss, trainable, adamw, mode, losses };
  const loop = o.hostSync ? hostLoop(parts) : deviceLoop(parts, o.inFlight);
  try {
    for (let i = 0; i < o.warmup; i++) await loop.step();
    await loop.drain();
    await b.sync();
    loop.recordMs.value = 0;
    const before = rt.stats();
    const t0 = performance.now();
    for (let i = 0; i < o.steps; i++) await loop.step();
    await loop.drain();
    await b.sync();
    const ms = (performance.now() - t0) / o.steps;
    const after = rt.stats();
    let profile: string[] | undefined;
    if (o.profile && rt.startProfile()) {
      await loop.step();
      await loop.drain();
      profile = profileLines(`${variant} ${mode}`, await rt.stopProfile(), ms);
    }
    const flopsPerToken = transformer.flopsPerToken(config, o.seqLen);
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
      mfuTensor: (flopsPerToken * tokensPerSec) / E2E_PEAK.f16TensorCore,
      mfuF32: (flopsPerToken * tokensPerSec) / E2E_PEAK.f32,
      dispatchesPerStep: (after.dispatches - before.dispatches) / o.steps,
      submitsPerStep: (after.submits - before.submits) / o.steps,
      compilesAfterFirstStep: after.pipelineCompiles - before.pipelineCompiles,
      recordMsPerStep: loop.recordMs.value / o.steps,
      loop: o.hostSync ? 'host' : 'device',
      losses,
      ...(mode === 'mixed' ? { lossScale: loop.lossScale(), skippedSteps: loop.skipped() } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    ids.dispose();
    targets.dispose();
    adamw.dispose();
    loop.dispose();
    model.dispose();
    b.tuning.matmul = {};
    rt.trim();
  }
}

/** One line of the results table. */
export const e2eRowLine = (row: E2eRow): string =>
  `${row.variant.padEnd(6)} ${row.mode.padEnd(6)} B=${row.batch} ${(row.parameters / 1e6).toFixed(1)}M params  ${row.msPerStep.toFixed(1).padStart(8)} ms/step  ` +
  `${Math.round(row.tokensPerSec).toString().padStart(8)} tok/s  MFU ${(100 * row.mfuTensor).toFixed(1)}% of 989T (${(100 * row.mfuF32).toFixed(1)}% of f32 67T)  ` +
  `${row.dispatchesPerStep} dispatches/step, ${row.submitsPerStep.toFixed(1)} submits, record ${row.recordMsPerStep.toFixed(1)} ms (${row.loop} loop), ` +
  `${row.compilesAfterFirstStep} compiles after step 1; losses ${row.losses.map((l) => l.toFixed(3)).join(' ')}` +
  (row.lossScale !== undefined ? `; loss scale ${row.lossScale}, skipped ${row.skippedSteps}` : '');
