import { CpuBackend, Generator, randn, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { clipScale, globalGradNorm } from '../src/optim/clip.js';
import { DeviceStepControl, type DeviceStepRecord, readRecord } from '../src/optim/device-step-webgpu.js';
import { slotsFor } from '../src/optim/multi-tensor.js';
import { paramGroups } from '../src/optim/param-groups.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeWebGPUBackend();
});
afterAll(() => gpu?.destroy());

const SHAPES = [[37, 19], [19], [1], [300, 7], [513]];
const OPTIONS = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };
const MAX_NORM = 30;

interface Scenario {
  /** Unscaled gradients per step and parameter (host arrays); a NaN makes the step non-finite. */
  readonly grads: Float32Array[][];
  readonly losses: number[];
  readonly lossScale?: { initial: number; growthInterval: number };
}

/** Parameters with `initial` values on the GPU and a fused AdamW over them. */
function setup(initial: Float32Array[]) {
  const params = new Map(initial.map((v, i) => [`p${i}`, tensor(v, { shape: SHAPES[i]!, backend: gpu })]));
  const opt = new AdamW(
    params,
    paramGroups(params, new Set(), 0.1),
    OPTIONS,
    makeFusedAdamWUpdate(gpu.runtime),
  );
  return { params, opt };
}

/** The same loop decided on the host: read the norm, clip, skip non-finite steps, PyTorch's GradScaler rules. */
async function hostLoop(s: Scenario, initial: Float32Array[]) {
  const { params, opt } = setup(initial);
  let scale = s.lossScale?.initial ?? 1;
  let good = 0;
  const records: DeviceStepRecord[] = [];
  for (const [step, grads] of s.grads.entries()) {
    for (const [i, p] of [...params.values()].entries())
      p.grad = tensor(
        grads[i]!.map((g) => g * scale),
        { shape: SHAPES[i]!, backend: gpu },
      );
    const norm = globalGradNorm(params.values());
    const gradNorm = (await norm.item()) / scale;
    norm.dispose();
    const finite = Number.isFinite(gradNorm) && Number.isFinite(s.losses[step]!);
    records.push({ loss: s.losses[step]!, gradNorm, finite, lossScale: scale, stepsTaken: 0 });
    if (finite) {
      opt.step(0.01 * (step + 1), clipScale(gradNorm, MAX_NORM) / scale);
      if (s.lossScale && ++good === s.lossScale.growthInterval) {
        scale *= 2;
        good = 0;
      }
    } else {
      good = 0;
      if (s.lossScale) scale /= 2;
    }
    for (const p of params.values()) p.zeroGrad();
  }
  return finish(params, opt, records);
}

/** The loop with every decision on the device: no read-back until the end. */
async function deviceLoop(s: Scenario, initial: Float32Array[]) {
  const { params, opt } = setup(initial);
  const control = new DeviceStepControl(gpu, { maxNorm: MAX_NORM, ...OPTIONS, ...s });
  const reads: Promise<DeviceStepRecord>[] = [];
  for (const [step, grads] of s.grads.entries()) {
    // The gradients a backward of loss × scale would leave: scaled on the device by the device's scale.
    for (const [i, p] of [...params.values()].entries()) {
      const g = tensor(grads[i]!, { shape: SHAPES[i]!, backend: gpu });
      p.grad = g.mul(control.lossScale);
      g.dispose();
    }
    const loss = tensor([s.losses[step]!], { shape: [], backend: gpu });
    const norm = globalGradNorm(params.values());
    const record = control.decide(loss, norm);
    const before = gpu.runtime.stats().dispatches;
    opt.stepOnDevice(0.01 * (step + 1), control.control);
    // Every parameter in multi-tensor dispatches, K per dispatch (one binding less: the control words).
    expect(gpu.runtime.stats().dispatches - before).toBe(
      Math.ceil(SHAPES.length / slotsFor(gpu.runtime, 4, 1)),
    );
    reads.push(readRecord(record));
    for (const t of [loss, norm, record]) t.dispose();
    for (const p of params.values()) p.zeroGrad();
  }
  const records = await Promise.all(reads);
  control.dispose();
  return finish(params, opt, records);
}

async function finish(params: Map<string, Tensor>, opt: AdamW, records: DeviceStepRecord[]) {
  const values = await Promise.all([...params.values()].map(async (p) => Float32Array.from(await p.data())));
  opt.dispose();
  for (const p of params.values()) p.dispose();
  return { values, records };
}

/** Random initial values and per-step gradients (standard deviation `std(step)`). */
async function scenario(steps: number, seed: number, std: (step: number) => number = () => 1) {
  const gen = new Generator(seed);
  const cpu = new CpuBackend();
  const draw = async (shape: number[], scale: number) =>
    Float32Array.from(await randn(shape, { generator: gen, backend: cpu }).data(), (x) => x * scale);
  const initial = await Promise.all(SHAPES.map((s) => draw(s, 1)));
  const grads: Float32Array[][] = [];
  for (let i = 0; i < steps; i++) grads.push(await Promise.all(SHAPES.map((s) => draw(s, std(i)))));
  return { initial, grads };
}

async function compare(s: Scenario, initial: Float32Array[]) {
  const live = gpu.liveBuffers();
  const host = await hostLoop(s, initial);
  const device = await deviceLoop(s, initial);
  expect(gpu.liveBuffers()).toBe(live);
  for (const [i, values] of device.values.entries()) {
    const ref = host.values[i]!;
    let worst = 0;
    for (let j = 0; j < values.length; j++) worst = Math.max(worst, Math.abs(values[j]! - ref[j]!));
    expect(worst).toBeLessThan(2e-6);
  }
  return { host, device };
}

describe('DeviceStepControl (clip, skip and loss scale decided on the GPU)', () => {
  it('gives the host-decided AdamW steps, clipping active on some steps', async () => {
    // 3336 elements: norms ≈ 170 on even steps (clipped to MAX_NORM), ≈ 12 on odd ones (not clipped).
    const { initial, grads } = await scenario(4, 5, (step) => (step % 2 === 0 ? 3 : 0.2));
    const losses = [2.5, 2.25, 2.0, 1.75];
    const { host, device } = await compare({ grads, losses }, initial);
    expect(host.records.filter((r) => r.gradNorm > MAX_NORM).length).toBeGreaterThan(0);
    expect(host.records.filter((r) => r.gradNorm < MAX_NORM).length).toBeGreaterThan(0);
    for (const [i, r] of device.records.entries()) {
      expect(r.loss).toBe(losses[i]);
      expect(r.gradNorm).toBeCloseTo(host.records[i]!.gradNorm, 4);
      expect(r.finite).toBe(true);
      expect(r.lossScale).toBe(1);
      expect(r.stepsTaken).toBe(i + 1);
    }
  });

  it('skips a non-finite step without counting it, and scales the loss dynamically', async () => {
    const { initial, grads } = await scenario(6, 9);
    grads[2]![3]![100] = Number.NaN; // step 3: a NaN gradient
    const losses = [3, 2.9, 2.8, Number.POSITIVE_INFINITY, 2.6, 2.5]; // step 4: an infinite loss
    const lossScale = { initial: 1024, growthInterval: 2 };
    const { host, device } = await compare({ grads, losses, lossScale }, initial);
    const finite = device.records.map((r) => r.finite);
    expect(finite).toEqual([true, true, false, false, true, true]);
    expect(finite).toEqual(host.records.map((r) => r.finite));
    // Doubles after 2 good steps, halves on each overflow, then the count restarts.
    expect(device.records.map((r) => r.lossScale)).toEqual([1024, 1024, 2048, 1024, 512, 512]);
    expect(device.records.map((r) => r.lossScale)).toEqual(host.records.map((r) => r.lossScale));
    expect(device.records.map((r) => r.stepsTaken)).toEqual([1, 2, 2, 2, 3, 4]);
  });

  it('rejects inputs it cannot read', () => {
    const control = new DeviceStepControl(gpu, { maxNorm: 1, ...OPTIONS });
    const two = tensor([1, 2], { shape: [2], backend: gpu });
    const cpuLoss = tensor([1], { shape: [], backend: new CpuBackend() });
    expect(() => control.decide(two, two)).toThrow(/loss must be one f32 element/);
    expect(() => control.decide(cpuLoss, cpuLoss)).toThrow(/WebGPU backend/);
    expect(
      () =>
        new DeviceStepControl(gpu, { maxNorm: 1, ...OPTIONS, lossScale: { initial: 0, growthInterval: 1 } }),
    ).toThrow(/initial must be > 0/);
    two.dispose();
    control.dispose();
  });
});
