import { matmul, type Tensor, tensor } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { cpuF32 } from '../../test/helpers.js';
import {
  cpuF64,
  drawValues,
  expectAllClose,
  forwardBackward,
  maxRelDiff,
  type ValueSpec,
} from '../../test/linear-scan-helpers.js';
import { routerZLoss, switchLoadBalancingLoss } from './aux-losses.js';
import { expertCapacity, planDispatch } from './dispatch.js';
import { type ExpertWeights, moe } from './moe.js';
import { moeDenseRef } from './moe.ref.js';
import { moeRoute } from './router.js';

/** x, router, gate, up, down. */
const specs = (N: number, D: number, E: number, F: number): ValueSpec[] => [
  { shape: [N, D] },
  { shape: [D, E] },
  { shape: [E, D, F], scale: 0.5 },
  { shape: [E, D, F], scale: 0.5 },
  { shape: [E, F, D], scale: 0.5 },
];

const asExperts = ([, , gate, up, down]: Tensor[]): ExpertWeights => ({ gate: gate!, up: up!, down: down! });

/** SwiGLU of expert e on one token, in float64 on the host. */
function hostExpert(x: ArrayLike<number>, vals: number[][], e: number, D: number, F: number): number[] {
  const [, , gate, up, down] = vals as [number[], number[], number[], number[], number[]];
  const h = Array.from({ length: F }, (_, f) => {
    let g = 0;
    let u = 0;
    for (let d = 0; d < D; d++) {
      g += x[d]! * gate[(e * D + d) * F + f]!;
      u += x[d]! * up[(e * D + d) * F + f]!;
    }
    return (g / (1 + Math.exp(-g))) * u;
  });
  return Array.from({ length: D }, (_, d) => h.reduce((s, hf, f) => s + hf * down[(e * F + f) * D + d]!, 0));
}

/** Which assignments survive a capacity of `cap` rows: slot-major, tokens in order (the documented priority). */
function hostKept(indices: Int32Array, N: number, k: number, E: number, cap: number): boolean[][] {
  const used = new Array<number>(E).fill(0);
  const kept = Array.from({ length: N }, () => new Array<boolean>(k).fill(false));
  for (let s = 0; s < k; s++)
    for (let t = 0; t < N; t++) {
      const e = indices[t * k + s]!;
      if (used[e]! < cap) {
        used[e]!++;
        kept[t]![s] = true;
      }
    }
  return kept;
}

/** Every token's output as the weighted sum of its (kept) experts, each computed alone on the host. */
async function expectTokenByToken(
  vals: number[][],
  N: number,
  D: number,
  E: number,
  F: number,
  options: { topK: number; normalizeTopK?: boolean; capacityFactor?: number },
) {
  const t = (i: number, shape: number[]) => tensor(vals[i]!, { shape, backend: cpuF64 });
  const x = t(0, [N, D]);
  const r = moe(
    x,
    t(1, [D, E]),
    { gate: t(2, [E, D, F]), up: t(3, [E, D, F]), down: t(4, [E, F, D]) },
    options,
  );
  const y = await r.y.toArray();
  const indices = (await r.routing.indices.data()) as Int32Array;
  const weights = await r.routing.weights.toArray();
  const kept = hostKept(indices, N, options.topK, E, r.capacity);
  let expectedDrops = 0;
  for (let tok = 0; tok < N; tok++) {
    const want = new Array<number>(D).fill(0);
    for (let s = 0; s < options.topK; s++) {
      if (!kept[tok]![s]) {
        expectedDrops++;
        continue;
      }
      const out = hostExpert(
        vals[0]!.slice(tok * D, (tok + 1) * D),
        vals,
        indices[tok * options.topK + s]!,
        D,
        F,
      );
      for (let d = 0; d < D; d++) want[d]! += weights[tok * options.topK + s]! * out[d]!;
    }
    expectAllClose(y.slice(tok * D, (tok + 1) * D), want, 1e-12, `token ${tok}`);
  }
  expect(await r.dropped.item()).toBe(expectedDrops);
  return { dropped: expectedDrops, indices };
}

describe('moe', () => {
  it('dropless: every token gets the weighted sum of its top-k experts, each computed one by one', async () => {
    const [N, D, E, F] = [11, 4, 5, 6];
    const vals = drawValues(specs(N, D, E, F), 1);
    const { dropped } = await expectTokenByToken(vals, N, D, E, F, { topK: 2 });
    expect(dropped).toBe(0);
    await expectTokenByToken(vals, N, D, E, F, { topK: 3, normalizeTopK: true });
  });

  it('with a capacity factor, drops overflow assignments (first choices first) and counts them', async () => {
    const [N, D, E, F] = [16, 3, 4, 5];
    const vals = drawValues(specs(N, D, E, F), 2);
    // A router biased towards expert 0 overloads it.
    vals[1] = vals[1]!.map((v, i) => (i % E === 0 ? v + 3 : v));
    const { dropped } = await expectTokenByToken(vals, N, D, E, F, { topK: 2, capacityFactor: 1 });
    expect(dropped).toBeGreaterThan(0);
    expect(expertCapacity(N, 2, E, 1)).toBe(8);
  });

  it('dropless dispatch equals the dense reference in the output and every gradient', async () => {
    const [N, D, E, F] = [9, 4, 4, 3];
    const sp = specs(N, D, E, F);
    const vals = drawValues(sp, 3);
    const viaDispatch = await forwardBackward(cpuF64, sp, vals, (t) => [
      moe(t[0]!, t[1]!, asExperts(t), { topK: 2, normalizeTopK: true }).y,
    ]);
    const dense = await forwardBackward(cpuF64, sp, vals, (t) => {
      const routing = moeRoute(matmul(t[0]!, t[1]!), { topK: 2, normalizeTopK: true });
      return [moeDenseRef(t[0]!, routing.weights, routing.indices, asExperts(t))];
    });
    expect(maxRelDiff(viaDispatch.outputs, dense.outputs)).toBeLessThan(1e-13);
    expect(maxRelDiff(viaDispatch.grads, dense.grads)).toBeLessThan(1e-13);
  });

  it('aux losses equal a direct computation (k at uniform routing for the balance loss)', async () => {
    const [N, E, k] = [7, 4, 2];
    const [logitVals] = drawValues([{ shape: [N, E] }], 4);
    const logits = tensor(logitVals!, { shape: [N, E], backend: cpuF64 });
    const routing = moeRoute(logits, { topK: k });
    const probs = await routing.probs.toArray();
    const indices = (await routing.indices.data()) as Int32Array;
    let balance = 0;
    let z = 0;
    for (let e = 0; e < E; e++) {
      let f = 0;
      let p = 0;
      for (let t = 0; t < N; t++) {
        for (let s = 0; s < k; s++) if (indices[t * k + s] === e) f += 1 / N;
        p += probs[t * E + e]! / N;
      }
      balance += E * f * p;
    }
    for (let t = 0; t < N; t++) {
      const lse = Math.log(logitVals!.slice(t * E, (t + 1) * E).reduce((s, v) => s + Math.exp(v), 0));
      z += (lse * lse) / N;
    }
    expect(await switchLoadBalancingLoss(routing.probs, routing.indices).item()).toBeCloseTo(balance, 12);
    expect(await routerZLoss(logits).item()).toBeCloseTo(z, 12);
    // Perfectly uniform probabilities and a balanced assignment give exactly k.
    const uniform = tensor(new Array(4 * E).fill(1 / E), { shape: [4, E], backend: cpuF64 });
    const balanced = tensor([0, 1, 2, 3, 0, 1, 2, 3], { shape: [4, 2], dtype: 'i32', backend: cpuF64 });
    expect(await switchLoadBalancingLoss(uniform, balanced).item()).toBeCloseTo(2, 12);
  });

  it('plans rows slot-major: first choices claim capacity before second choices', async () => {
    // 3 tokens all choose expert 1 first and expert 0 second; capacity 2.
    const indices = tensor([1, 0, 1, 0, 1, 0], { shape: [3, 2], dtype: 'i32', backend: cpuF64 });
    const plan = planDispatch(indices, 2, 2);
    // Assignments: slot 0 → tokens 0,1,2 at expert 1 (rows 2, 3, dropped=4); slot 1 → expert 0 (rows 0, 1, dropped).
    expect(await plan.rows.toArray()).toEqual([2, 3, 4, 0, 1, 4]);
    expect(await plan.dropped.item()).toBe(2);
    expect(await plan.tokensPerExpert.toArray()).toEqual([3, 3]);
  });

  it('passes checkOp (f32 CPU vs f64, gradients through routing weights, finite differences)', async () => {
    const [N, D, E, F] = [5, 3, 4, 2];
    await checkOp(
      'moe',
      specs(N, D, E, F).map((s) => ({ shape: s.shape })),
      (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), { topK: 2, capacityFactor: 1.25 });
        return r.y.add(r.loadBalancingLoss.mul(0.1)).add(r.zLoss.mul(0.01));
      },
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  gpuTest(
    'on WebGPU matches the f64 reference in outputs, aux losses and every gradient',
    async ({ backend }) => {
      const [N, D, E, F] = [9, 4, 4, 3];
      for (const capacityFactor of [undefined, 0.75])
        await checkOp(
          `moe webgpu cf=${capacityFactor}`,
          specs(N, D, E, F).map((s) => ({ shape: s.shape })),
          (t) => {
            const r = moe(t[0]!, t[1]!, asExperts(t), {
              topK: 2,
              ...(capacityFactor ? { capacityFactor } : {}),
            });
            return r.y.add(r.loadBalancingLoss.mul(0.1)).add(r.zLoss.mul(0.01)).add(r.dropped);
          },
          { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
        );
    },
  );

  it('names the op, the argument and the shapes in its errors', () => {
    const x = tensor(new Array(12).fill(0), { shape: [4, 3], backend: cpuF64 });
    const router = tensor(new Array(6).fill(0), { shape: [3, 2], backend: cpuF64 });
    const gate = tensor(new Array(12).fill(0), { shape: [2, 3, 2], backend: cpuF64 });
    const down = tensor(new Array(12).fill(0), { shape: [2, 2, 3], backend: cpuF64 });
    expect(() => moe(x, router, { gate, up: gate, down }, { topK: 3 })).toThrow(
      /moe: topK must be an integer in 1\.\.E=2, got 3/,
    );
    expect(() => moe(x, router, { gate, up: gate, down: gate }, { topK: 1 })).toThrow(
      /moe: experts\.down must be \[2, 2, 3\], got \[2, 3, 2\]/,
    );
    expect(() => moe(x, router, { gate, up: gate, down }, { topK: 1, capacityFactor: 0 })).toThrow(
      /capacityFactor must be > 0/,
    );
  });
});
