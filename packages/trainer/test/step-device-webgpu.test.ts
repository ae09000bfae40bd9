import { decodeConfig, transformer } from '@dynconv/architectures';
import { tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainBatch } from '../src/data/TrainData.js';
import { e2eTokenIds } from '../src/e2e/options.js';
import { AdamW } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { DeviceStepControl, type DeviceStepRecord, readRecord } from '../src/optim/device-step-webgpu.js';
import { paramGroups } from '../src/optim/param-groups.js';
import { type PreparedBatch, recordDeviceStep, recordTrainStep } from '../src/train/step.js';

/**
 * `recordDeviceStep` (batches already on the device, the e2e benchmark's
 * loop) is the step `recordTrainStep` records with a device control (the
 * Trainer's): same dispatches, same records, same parameters, bit for bit.
 */
let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeWebGPUBackend();
});
afterAll(() => gpu?.destroy());

const CONFIG = decodeConfig(transformer.configSchema, {
  nLayers: 1,
  dModel: 32,
  nHeads: 2,
  mlpHidden: 48,
  vocabSize: 97,
  tieEmbeddings: false,
});
const [B, T] = [2, 16];
const STEPS = 3;
const LR = 3e-3;

/** Two micro-batches of fixed token ids (grad accumulation: the mean of the losses). */
const batches: TrainBatch[] = [1, 2].map((k) => ({
  inputs: e2eTokenIds(B * T, CONFIG.vocabSize, 10 * k),
  targets: e2eTokenIds(B * T, CONFIG.vocabSize, 10 * k + 1),
  docStart: new Int32Array(B * T),
  batchSize: B,
  seqLen: T,
}));

/** A fresh model (seed 1), fused AdamW and step control with loss scaling. */
function setup() {
  const model = transformer.build(CONFIG, { backend: gpu, seed: 1 });
  const trainable = model.parameters;
  const optimizer = new AdamW(
    trainable,
    paramGroups(trainable, model.noDecay, 0.1),
    { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    makeFusedAdamWUpdate(gpu.runtime),
  );
  // maxNorm small enough to clip, growth every 2 steps: both decisions change the update.
  const control = new DeviceStepControl(gpu, {
    maxNorm: 0.5,
    beta1: 0.9,
    beta2: 0.95,
    lossScale: { initial: 2 ** 10, growthInterval: 2 },
  });
  return { model, trainable, optimizer, control };
}

type Recorder = (s: ReturnType<typeof setup>) => Promise<DeviceStepRecord>;

/** Runs `STEPS` steps with `record`; returns each step's dispatches, the records and the final parameters. */
async function run(record: Recorder) {
  const s = setup();
  const dispatches: number[] = [];
  const records: DeviceStepRecord[] = [];
  for (let i = 0; i < STEPS; i++) {
    const before = gpu.runtime.stats().dispatches;
    const read = record(s);
    dispatches.push(gpu.runtime.stats().dispatches - before);
    records.push(await read);
  }
  const params = await Promise.all(
    [...s.trainable.values()].map(async (p) => Float32Array.from(await p.data())),
  );
  s.control.dispose();
  s.optimizer.dispose();
  s.model.dispose();
  return { dispatches, records, params };
}

describe('recordDeviceStep (prepared device tensors)', () => {
  it('records the step recordTrainStep records with a control, bitwise', async () => {
    const live = gpu.liveBuffers();
    const host = await run(async (s) => {
      const step = recordTrainStep({
        ...s,
        backend: gpu,
        batches,
        lr: LR,
        gradClip: 0,
        withDocStart: false,
      });
      const o = await step.outcome;
      expect(step.tokens).toBe(2 * B * T);
      return {
        loss: o.loss,
        gradNorm: o.gradNorm,
        finite: o.finite,
        lossScale: o.lossScale!,
        stepsTaken: o.stepsTaken!,
      };
    });
    const prepared: PreparedBatch[] = batches.map((b) => ({
      input: { ids: tensor(b.inputs, { shape: [B, T], dtype: 'i32', backend: gpu }) },
      targets: tensor(b.targets, { shape: [B, T], dtype: 'i32', backend: gpu }),
    }));
    const device = await run((s) => {
      const { tokens, record } = recordDeviceStep({ ...s, lr: LR, batches: prepared });
      expect(tokens).toBe(2 * B * T);
      const read = readRecord(record);
      record.dispose();
      return read;
    });
    for (const b of prepared) for (const t of [b.input.ids, b.targets]) t.dispose();
    // Nothing left behind: the caller's batches stay the caller's, the records are freed.
    expect(gpu.liveBuffers()).toBe(live);

    // The uploaded path fills each fresh ids/targets buffer with NaN first when the tests poison buffers.
    const poisonFills = gpu.runtime.poison ? 2 * batches.length : 0;
    expect(host.dispatches).toEqual(device.dispatches.map((d) => d + poisonFills));
    expect(device.records).toEqual(host.records);
    expect(device.records.map((r) => r.stepsTaken)).toEqual([1, 2, 3]);
    expect(device.records.map((r) => r.lossScale)).toEqual([2 ** 10, 2 ** 10, 2 ** 11]);
    expect(device.records.some((r) => r.gradNorm > 0.5)).toBe(true);
    for (const [i, p] of device.params.entries())
      expect(new Uint32Array(p.buffer)).toEqual(new Uint32Array(host.params[i]!.buffer));
  }, 120_000);
});
