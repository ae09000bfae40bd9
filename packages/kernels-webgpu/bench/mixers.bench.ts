/**
 * Linear-mixer and MoE benchmark (not a test): tokens/s of one training step
 * (forward + backward, wall clock around a sync, median of `--iters`) of each
 * mixer core at T=4096, next to causal attention as the baseline. Shapes are
 * those of a d_model=1024 layer:
 *
 *   ssd        H=32 P=64 N=64 G=1 Q=64            (Mamba-2, d_inner 2048)
 *   gdn        H=8  K=128 V=256 Q=64              (Gated DeltaNet, expand_v 2)
 *   gla        H=4  K=128 V=256 Q=16              (GLA, expand_k 0.5)
 *   moe        N=B·T d=1024 E=8 k=2 F=1408, dropless and capacity 1.25
 *   attention  H=16 dh=64                         (baseline)
 *
 *   pnpm --filter @dynconv/kernels-webgpu bench:mixers [--small] [--iters N] [--json FILE] [--cpu] [--only a,b]
 *
 * --small: T=256 and quarter widths (the smoke run); --cpu: the f32 CPU
 * backend instead of WebGPU. GPU time from timestamp queries is printed too
 * when available (null when the step flushes mid-way, which long steps do).
 */
import { writeFileSync } from 'node:fs';
import { type Backend, CpuBackend, randn, sigmoid, softplus, type Tensor, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { causalAttention, gatedDeltaRule, gla, moe, ssd } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
const iters = Number(flag('--iters') ?? (small ? 2 : 10));
const only = flag('--only')?.split(',');
const B = small ? 1 : 2;
const T = small ? 256 : 4096;
const w = (n: number) => (small ? Math.max(1, n / 4) : n);

const webgpu = args.includes('--cpu')
  ? null
  : await createNodeWebGPUBackend({ disableToggles: ['timestamp_quantization'] });
const backend: Backend = webgpu ?? new CpuBackend();
const deviceName = webgpu
  ? `${webgpu.runtime.device.adapterInfo.vendor} ${webgpu.runtime.device.adapterInfo.description}`.trim()
  : 'cpu';

const leaf = (shape: number[], scale = 0.5): Tensor =>
  tidy(() => randn(shape, { backend }).mul(scale)).requireGrad();

interface Variant {
  name: string;
  shape: string;
  inputs: Tensor[];
  /** The loss-producing output(s) of one step. */
  run: (t: Tensor[]) => Tensor[];
}

/** Inputs in their valid domains come from raw leaves through the same ops a layer would use. */
function variants(): Variant[] {
  const out: Variant[] = [];
  {
    const [H, P, N] = [w(32), 64, w(64)];
    out.push({
      name: 'ssd',
      shape: `H=${H} P=${P} N=${N} Q=64`,
      inputs: [
        leaf([B, T, H, P]),
        leaf([B, T, H]),
        leaf([H]),
        leaf([B, T, 1, N]),
        leaf([B, T, 1, N]),
        leaf([H]),
      ],
      run: ([x, dt, aLog, b, c, d]) => {
        const r = ssd(x!, softplus(dt!), aLog!.exp().neg(), b!, c!, { D: d!, chunkSize: 64 });
        return [r.y];
      },
    });
  }
  {
    const [H, K, V] = [w(8), w(128), w(256)];
    const unit = (t: Tensor) => t.div(t.square().sum(-1, true).add(1e-6).sqrt());
    out.push({
      name: 'gated-delta',
      shape: `H=${H} K=${K} V=${V} Q=64`,
      inputs: [leaf([B, T, H, K]), leaf([B, T, H, K]), leaf([B, T, H, V]), leaf([B, T, H]), leaf([B, T, H])],
      run: ([q, k, v, a, b]) => [
        gatedDeltaRule(unit(q!), unit(k!), v!, softplus(a!).neg(), sigmoid(b!), { chunkSize: 64 }).o,
      ],
    });
  }
  {
    const [H, K, V] = [w(4), w(128), w(256)];
    out.push({
      name: 'gla',
      shape: `H=${H} K=${K} V=${V} Q=16`,
      inputs: [leaf([B, T, H, K]), leaf([B, T, H, K]), leaf([B, T, H, V]), leaf([B, T, H, K])],
      run: ([q, k, v, g]) => [gla(q!, k!, v!, softplus(g!.neg()).neg().div(16), { chunkSize: 16 }).o],
    });
  }
  for (const capacityFactor of [undefined, 1.25]) {
    const [d, E, F] = [w(1024), 8, w(1408)];
    out.push({
      name: capacityFactor ? `moe cf=${capacityFactor}` : 'moe dropless',
      shape: `N=${B * T} d=${d} E=${E} k=2 F=${F}`,
      inputs: [
        leaf([B * T, d]),
        leaf([d, E], 0.05),
        leaf([E, d, F], 0.03),
        leaf([E, d, F], 0.03),
        leaf([E, F, d], 0.03),
      ],
      run: ([x, r, g, u, dn]) => {
        const m = moe(
          x!,
          r!,
          { gate: g!, up: u!, down: dn! },
          { topK: 2, normalizeTopK: true, ...(capacityFactor ? { capacityFactor } : {}) },
        );
        return [m.y, m.loadBalancingLoss.mul(0.01)];
      },
    });
  }
  {
    const [H, dh] = [w(16), 64];
    out.push({
      name: 'attention (baseline)',
      shape: `H=${H} dh=${dh}`,
      inputs: [leaf([B, H, T, dh]), leaf([B, H, T, dh]), leaf([B, H, T, dh])],
      run: ([q, k, v]) => [causalAttention(q!, k!, v!)],
    });
  }
  return out.filter((v) => !only || only.some((o) => v.name.startsWith(o)));
}

/** One training step: forward, a scalar loss over the outputs, backward, gradients dropped. */
function step(v: Variant): void {
  tidy(() => {
    let loss: Tensor | null = null;
    for (const y of v.run(v.inputs)) {
      const s = y.square().mean();
      loss = loss ? loss.add(s) : s;
    }
    loss!.backward();
  });
  for (const t of v.inputs) t.zeroGrad();
}

async function measure(v: Variant): Promise<{ wallMs: number; gpuMs: number | null }> {
  step(v);
  await backend.sync();
  const wall: number[] = [];
  let gpu: number | null = null;
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    step(v);
    await backend.sync();
    wall.push(performance.now() - t0);
  }
  if (webgpu) gpu = await webgpu.runtime.timeGpu(() => step(v));
  wall.sort((a, b) => a - b);
  return { wallMs: wall[Math.floor(wall.length / 2)]!, gpuMs: gpu };
}

console.log(`device: ${deviceName}; B=${B} T=${T} f32; ${iters} iterations${small ? ' (--small)' : ''}`);
const rows: Record<string, number | string | null>[] = [];
for (const v of variants()) {
  const { wallMs, gpuMs } = await measure(v);
  const row = {
    mixer: v.name,
    shape: v.shape,
    stepMs: +wallMs.toFixed(2),
    tokensPerSec: Math.round((B * T) / (wallMs / 1000)),
    gpuMs: gpuMs === null ? null : +gpuMs.toFixed(2),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  for (const t of v.inputs) t.dispose();
}
console.table(rows);
const json = flag('--json');
if (json) writeFileSync(json, JSON.stringify({ device: deviceName, B, T, small, iters, rows }, null, 2));
webgpu?.destroy();
