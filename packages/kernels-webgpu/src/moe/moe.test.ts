import { type Backend, matmul, mul, noGrad, type Tensor, tensor } from '@dynconv/tensor';
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
import { runtimeOf } from '../common/gpu.js';
import { routerZLoss, switchLoadBalancingLoss } from './aux-losses.js';
import { planCapacityGroups } from './capacity-plan.js';
import { combineTokens, dispatchTokens, expertCapacity, planDispatch } from './dispatch.js';
import { planGroups } from './group-plan.js';
import { type ExpertWeights, expertsSwiGLU, moe } from './moe.js';
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

/**
 * Draws x, router, gate, up, down where feature 0 of every token is ≥ 1 and
 * the router's row 0 pushes `starved` far down (it receives no token) and
 * `popular` far up (every token picks it).
 */
function skewedValues(
  N: number,
  D: number,
  E: number,
  F: number,
  seed: number,
  starved: number,
  popular?: number,
) {
  const vals = drawValues(specs(N, D, E, F), seed);
  for (let t = 0; t < N; t++) vals[0]![t * D] = 1 + Math.abs(vals[0]![t * D]!);
  vals[1]![starved] = -20;
  if (popular !== undefined) vals[1]![popular] = 20;
  return vals;
}

/** The expert-sorted grouping by a host counting sort: rows[a], offsets (a = t·k + s). */
function hostGroups(indices: ArrayLike<number>, E: number) {
  const counts = new Array<number>(E).fill(0);
  for (let a = 0; a < indices.length; a++) counts[indices[a]!]!++;
  const offsets = [0];
  for (let e = 0; e < E; e++) offsets.push(offsets[e]! + counts[e]!);
  const next = offsets.slice(0, E);
  const rows = Array.from(indices, (e) => next[e]!++);
  return { counts, offsets, rows };
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

  it('dropless on odd sizes with a starved expert: token by token, counts, and every gradient equal the dense reference', async () => {
    const [N, D, E, F, k] = [13, 5, 6, 7, 2];
    const vals = skewedValues(N, D, E, F, 5, 4);
    const { indices } = await expectTokenByToken(vals, N, D, E, F, { topK: k, normalizeTopK: true });
    expect(Array.from(indices)).not.toContain(4);
    const sp = specs(N, D, E, F);
    const grouped = await forwardBackward(cpuF64, sp, vals, (t) => {
      const r = moe(t[0]!, t[1]!, asExperts(t), { topK: k, normalizeTopK: true });
      expect(r.expertRows).toBe(N * k);
      return [r.y];
    });
    const dense = await forwardBackward(cpuF64, sp, vals, (t) => {
      const routing = moeRoute(matmul(t[0]!, t[1]!), { topK: k, normalizeTopK: true });
      return [moeDenseRef(t[0]!, routing.weights, routing.indices, asExperts(t))];
    });
    expect(maxRelDiff(grouped.outputs, dense.outputs)).toBeLessThan(1e-13);
    expect(maxRelDiff(grouped.grads, dense.grads)).toBeLessThan(1e-13);
    // The starved expert's weights get exactly zero gradient.
    for (const w of [2, 3, 4]) {
      const per = w === 4 ? F * D : D * F;
      expect(grouped.grads[w]!.slice(4 * per, 5 * per).every((v) => v === 0)).toBe(true);
    }
  });

  it('the padded path at N rows per expert (the fallback without a grouped kernel) equals grouped dropless', async () => {
    const [N, D, E, F, k] = [10, 4, 5, 3, 2];
    const sp = specs(N, D, E, F);
    const vals = skewedValues(N, D, E, F, 9, 1);
    // The padded fallback runs only where no grouped kernel exists, so it is composed here directly.
    const padded = await forwardBackward(cpuF64, sp, vals, (t) => {
      const routing = moeRoute(matmul(t[0]!, t[1]!), { topK: k });
      const plan = planDispatch(routing.indices, E, expertCapacity(N, k, E));
      return [combineTokens(expertsSwiGLU(dispatchTokens(t[0]!, plan), asExperts(t)), routing.weights, plan)];
    });
    const run = (capacityFactor?: number) =>
      forwardBackward(cpuF64, sp, vals, (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), { topK: k, ...(capacityFactor ? { capacityFactor } : {}) });
        expect(r.expertRows).toBe(N * k);
        return [r.y];
      });
    // capacityFactor E/k gives ⌈(E/k)·N·k/E⌉ = N rows per expert: nothing can be dropped.
    const [capped, grouped] = [await run(E / k), await run()];
    for (const other of [padded, capped]) {
      expect(maxRelDiff(other.outputs, grouped.outputs)).toBeLessThan(1e-14);
      expect(maxRelDiff(other.grads, grouped.grads)).toBeLessThan(1e-14);
    }
  });

  it('groups assignments by expert like a host counting sort (CPU), and counts N·k expert rows', async () => {
    const [N, D, E, F, k] = [11, 4, 5, 3, 3];
    const vals = skewedValues(N, D, E, F, 6, 2);
    const t = (i: number, shape: number[]) => tensor(vals[i]!, { shape, backend: cpuF64 });
    const r = noGrad(() =>
      moe(
        t(0, [N, D]),
        t(1, [D, E]),
        { gate: t(2, [E, D, F]), up: t(3, [E, D, F]), down: t(4, [E, F, D]) },
        { topK: k },
      ),
    );
    const indices = (await r.routing.indices.data()) as Int32Array;
    const want = hostGroups(indices, E);
    const plan = planGroups(r.routing.indices, E);
    expect(Array.from(await plan.rows.data())).toEqual(want.rows);
    expect(Array.from(await plan.offsets.data())).toEqual(want.offsets);
    expect(await plan.tokensPerExpert.toArray()).toEqual(want.counts);
    expect(await r.tokensPerExpert.toArray()).toEqual(want.counts);
    expect(want.counts[2]).toBe(0);
    const order = Array.from(await plan.order.data());
    expect(order.map((a) => want.rows[a])).toEqual(Array.from({ length: N * k }, (_, i) => i));
    expect(Array.from(await plan.tokenOfRow.data())).toEqual(order.map((a) => Math.floor(a / k)));
    expect(r.expertRows).toBe(N * k);
    expect(await r.dropped.item()).toBe(0);
  });

  it('dropless passes checkOp (f32 CPU vs f64, finite differences through the grouped path)', async () => {
    const [N, D, E, F] = [7, 3, 5, 4];
    await checkOp(
      'moe dropless',
      specs(N, D, E, F).map((s) => ({ shape: s.shape })),
      (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), { topK: 2, normalizeTopK: true });
        return r.y.add(r.loadBalancingLoss.mul(0.1)).add(r.zLoss.mul(0.01));
      },
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  gpuTest(
    'dropless on WebGPU: segments across tiles and a starved expert match the f64 CPU op; runs only the N·k routed rows',
    async ({ backend }) => {
      // Expert 0 takes every token (75 rows: two 64-row tiles), expert 3 none; F = 70 spans two column tiles.
      const [N, D, E, F, k] = [75, 20, 5, 70, 2];
      const vals = skewedValues(N, D, E, F, 7, 3, 0);
      const sp = specs(N, D, E, F);
      const rt = runtimeOf(backend)!;
      const launches: { key: string; uniforms: Uint32Array }[] = [];
      const dispatch = rt.dispatch.bind(rt);
      rt.dispatch = (spec) => {
        launches.push({
          key: spec.pipelineKey,
          uniforms: new Uint32Array((spec.uniforms as Uint32Array).slice()),
        });
        dispatch(spec);
      };
      let gpu: Awaited<ReturnType<typeof forwardBackward>>;
      try {
        gpu = await forwardBackward(backend, sp, vals, (t) => [
          moe(t[0]!, t[1]!, asExperts(t), { topK: k }).y,
        ]);
      } finally {
        rt.dispatch = dispatch;
      }
      const cpu = await forwardBackward(cpuF64, sp, vals, (t) => [
        moe(t[0]!, t[1]!, asExperts(t), { topK: k }).y,
      ]);
      expect(maxRelDiff(gpu.outputs, cpu.outputs)).toBeLessThan(1e-4);
      expect(maxRelDiff(gpu.grads, cpu.grads)).toBeLessThan(1e-4);
      // Uniforms [R, L, N, ...]: the three forward expert matmuls run on R = N·k rows, R·D·F multiply-adds each.
      const forward = launches.filter((l) => l.key.startsWith('moe.groupedMatmul|xw|'));
      expect(forward.map((l) => l.uniforms[0])).toEqual([N * k, N * k, N * k]);
      expect(forward.reduce((n, l) => n + l.uniforms[0]! * l.uniforms[1]! * l.uniforms[2]!, 0)).toBe(
        N * k * 3 * D * F,
      );
      expect(launches.filter((l) => l.key.startsWith('moe.groupedMatmul|')).length).toBe(3 + 6);
    },
  );

  gpuTest(
    'dropless on WebGPU is deterministic: two runs are bitwise equal in outputs and gradients',
    async ({ backend }) => {
      const [N, D, E, F] = [33, 12, 6, 20];
      const vals = skewedValues(N, D, E, F, 8, 5);
      const run = () =>
        forwardBackward(backend, specs(N, D, E, F), vals, (t) => {
          const r = moe(t[0]!, t[1]!, asExperts(t), { topK: 2, normalizeTopK: true });
          return [r.y, r.loadBalancingLoss, r.zLoss];
        });
      const [a, b] = [await run(), await run()];
      expect(a.outputs).toEqual(b.outputs);
      expect(a.grads).toEqual(b.grads);
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

/**
 * The grouped capacity layout by a host loop: kept assignments (slot-major
 * priority, see `hostKept`) fill each expert's segment in that order, the
 * dropped ones follow all segments in assignment order.
 */
function hostCapacityLayout(indices: Int32Array, N: number, k: number, E: number, cap: number) {
  const kept = hostKept(indices, N, k, E, cap);
  const keptCounts = new Array<number>(E).fill(0);
  for (let t = 0; t < N; t++) for (let s = 0; s < k; s++) if (kept[t]![s]) keptCounts[indices[t * k + s]!]!++;
  const offsets = [0];
  for (let e = 0; e < E; e++) offsets.push(offsets[e]! + keptCounts[e]!);
  const next = offsets.slice(0, E);
  const rows = new Array<number>(N * k);
  for (let s = 0; s < k; s++)
    for (let t = 0; t < N; t++) if (kept[t]![s]) rows[t * k + s] = next[indices[t * k + s]!]!++;
  let tail = offsets[E]!;
  for (let a = 0; a < N * k; a++) if (!kept[Math.floor(a / k)]![a % k]) rows[a] = tail++;
  return { kept, offsets, rows, dropped: N * k - offsets[E]! };
}

/** Routing indices of the given values (float64 CPU). */
async function routedIndices(vals: number[][], N: number, D: number, E: number, topK: number) {
  const x = tensor(vals[0]!, { shape: [N, D], backend: cpuF64 });
  const r = tensor(vals[1]!, { shape: [D, E], backend: cpuF64 });
  const routing = noGrad(() => moeRoute(matmul(x, r), { topK }));
  const indices = (await routing.indices.data()) as Int32Array;
  for (const t of [x, r, routing.probs, routing.weights, routing.indices]) t.dispose();
  return Int32Array.from(indices);
}

/**
 * Capacity-mode reference: the dense, expert-by-expert `moeDenseRef` with the
 * routing weights of dropped assignments (a host mask from `hostKept`) set to 0.
 */
function capacityRef(t: Tensor[], kept: boolean[][], options: { topK: number; normalizeTopK?: boolean }) {
  const [N, k] = [kept.length, options.topK];
  const routing = moeRoute(matmul(t[0]!, t[1]!), options);
  const mask = tensor(
    kept.flatMap((row) => row.map((v) => (v ? 1 : 0))),
    { shape: [N, k], backend: t[0]!.backend },
  );
  return moeDenseRef(t[0]!, mul(routing.weights, mask), routing.indices, asExperts(t));
}

describe('moe with a capacity factor (grouped)', () => {
  const configs = [
    { topK: 2, capacityFactor: 0.8 },
    { topK: 3, capacityFactor: 0.6, normalizeTopK: true },
    { topK: 1, capacityFactor: 1.1 },
  ];

  it.each(configs)(
    'odd sizes, an expert over capacity and one starved (%o): token by token, plan, drops and every gradient equal the reference',
    async (options) => {
      const [N, D, E, F] = [13, 5, 6, 7];
      const k = options.topK;
      const [popular, starved] = [0, 4];
      const vals = skewedValues(N, D, E, F, 10 + k, starved, popular);
      const C = expertCapacity(N, k, E, options.capacityFactor);
      const indices = await routedIndices(vals, N, D, E, k);
      const want = hostCapacityLayout(indices, N, k, E, C);
      const counts = hostGroups(indices, E).counts;
      expect(counts[popular]).toBe(N);
      expect(counts[popular]).toBeGreaterThan(C);
      expect(counts[starved]).toBe(0);
      expect(want.dropped).toBeGreaterThan(0);

      const { dropped } = await expectTokenByToken(vals, N, D, E, F, options);
      expect(dropped).toBe(want.dropped);

      const plan = planCapacityGroups(
        tensor(indices, { shape: [N, k], dtype: 'i32', backend: cpuF64 }),
        E,
        C,
      );
      expect(Array.from(await plan.rows.data())).toEqual(want.rows);
      expect(Array.from(await plan.offsets.data())).toEqual(want.offsets);
      expect(await plan.tokensPerExpert.toArray()).toEqual(counts);
      expect(await plan.dropped.item()).toBe(want.dropped);
      const order = Array.from(await plan.order.data());
      expect(Array.from(await plan.tokenOfRow.data())).toEqual(order.map((a) => Math.floor(a / k)));

      const sp = specs(N, D, E, F);
      const grouped = await forwardBackward(cpuF64, sp, vals, (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), options);
        expect(r.capacity).toBe(C);
        expect(r.expertRows).toBe(Math.min(N * k, E * C));
        return [r.y, r.tokensPerExpert, r.dropped];
      });
      const ref = await forwardBackward(cpuF64, sp, vals, (t) => [capacityRef(t, want.kept, options)]);
      expect(maxRelDiff([grouped.outputs[0]!], ref.outputs)).toBeLessThan(1e-13);
      expect(maxRelDiff(grouped.grads, ref.grads)).toBeLessThan(1e-13);
      expect(Array.from(grouped.outputs[1]!)).toEqual(counts);
      expect(grouped.outputs[2]![0]).toBe(want.dropped);
      // The starved expert's weights get exactly zero gradient.
      for (const w of [2, 3, 4])
        expect(grouped.grads[w]!.slice(starved * D * F, (starved + 1) * D * F).every((v) => v === 0)).toBe(
          true,
        );
    },
  );

  it('keeps first choices before earlier tokens’ second choices (slot-major), not assignment order', async () => {
    // Token 0 picks experts 0 then 1, token 1 picks 1 then 0; capacity 1. Slot-major keeps both
    // first choices; assignment (token) order would have kept token 0's second choice instead.
    const indices = tensor([0, 1, 1, 0], { shape: [2, 2], dtype: 'i32', backend: cpuF64 });
    const plan = planCapacityGroups(indices, 2, 1);
    expect(Array.from(await plan.rows.data())).toEqual([0, 2, 1, 3]);
    expect(Array.from(await plan.offsets.data())).toEqual([0, 1, 2]);
    expect(await plan.dropped.item()).toBe(2);
    // Same overload as the padded planner's test: 3 tokens choose expert 1 then 0, capacity 2.
    const busy = tensor([1, 0, 1, 0, 1, 0], { shape: [3, 2], dtype: 'i32', backend: cpuF64 });
    const p2 = planCapacityGroups(busy, 2, 2);
    expect(Array.from(await p2.rows.data())).toEqual([2, 0, 3, 1, 4, 5]);
    expect(Array.from(await p2.offsets.data())).toEqual([0, 2, 4]);
    expect(await p2.dropped.item()).toBe(2);
    expect(await p2.tokensPerExpert.toArray()).toEqual([3, 3]);
    // The padded planner drops exactly the same assignments (its spare row E·C = 4; rows slot-major).
    const padded = Array.from(await planDispatch(busy, 2, 2).rows.data());
    const droppedByAssignment = Array.from(
      { length: 6 },
      (_, a) => padded[(a % 2) * 3 + Math.floor(a / 2)] === 4,
    );
    expect(droppedByAssignment).toEqual([false, false, false, false, true, true]);
  });

  it('passes checkOp with drops (f32 CPU vs f64, finite differences on a tiny layer)', async () => {
    const [N, D, E, F, k] = [6, 3, 4, 2, 2];
    const vals = skewedValues(N, D, E, F, 12, 3, 0);
    const options = { topK: k, capacityFactor: 0.5 };
    const C = expertCapacity(N, k, E, options.capacityFactor);
    expect(hostCapacityLayout(await routedIndices(vals, N, D, E, k), N, k, E, C).dropped).toBeGreaterThan(0);
    await checkOp(
      'moe capacity',
      specs(N, D, E, F).map((s, i) => ({ shape: s.shape, init: (j: number) => vals[i]![j]! })),
      (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), options);
        return r.y.add(r.loadBalancingLoss.mul(0.1)).add(r.zLoss.mul(0.01));
      },
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  /** Forward + backward of capacity-mode moe; returns the results and the dispatched pipeline keys and uniforms. */
  async function tracedRun(
    backend: Backend,
    vals: number[][],
    dims: number[],
    options: { topK: number; capacityFactor?: number; normalizeTopK?: boolean },
  ) {
    const [N, D, E, F] = dims as [number, number, number, number];
    const rt = runtimeOf(backend)!;
    const launches: { key: string; uniforms: Uint32Array }[] = [];
    const dispatch = rt.dispatch.bind(rt);
    rt.dispatch = (spec) => {
      launches.push({
        key: spec.pipelineKey,
        uniforms: new Uint32Array((spec.uniforms as Uint32Array).slice()),
      });
      dispatch(spec);
    };
    try {
      const result = await forwardBackward(backend, specs(N, D, E, F), vals, (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), options);
        return [r.y, r.dropped, r.tokensPerExpert];
      });
      return { result, launches };
    } finally {
      rt.dispatch = dispatch;
    }
  }

  gpuTest(
    'on WebGPU: segments and the dropped tail across 64-row tiles match the f64 CPU op; grouped launches only, no scatter; deterministic',
    async ({ backend }) => {
      // Expert 0 takes every token (150 > C = 75: its kept segment spans two tiles, and ≥ 75 rows drop),
      // expert 3 none; F = 70 spans two column tiles.
      const [N, D, E, F, k] = [150, 20, 4, 70, 2];
      const options = { topK: k, capacityFactor: 1 };
      const vals = skewedValues(N, D, E, F, 13, 3, 0);
      const C = expertCapacity(N, k, E, 1);
      const want = hostCapacityLayout(await routedIndices(vals, N, D, E, k), N, k, E, C);
      expect(want.dropped).toBeGreaterThan(64);
      const first = await tracedRun(backend, vals, [N, D, E, F], options);
      const cpu = await forwardBackward(cpuF64, specs(N, D, E, F), vals, (t) => {
        const r = moe(t[0]!, t[1]!, asExperts(t), options);
        return [r.y, r.dropped, r.tokensPerExpert];
      });
      expect(maxRelDiff(first.result.outputs, cpu.outputs)).toBeLessThan(1e-4);
      expect(maxRelDiff(first.result.grads, cpu.grads)).toBeLessThan(1e-4);
      expect(first.result.outputs[1]![0]).toBe(want.dropped);
      // Uniforms [R, L, N, ...]: the forward expert matmuls run over the N·k sorted rows (the kept ones multiplied).
      const forward = first.launches.filter((l) => l.key.startsWith('moe.groupedMatmul|xw|'));
      expect(forward.map((l) => l.uniforms[0])).toEqual([N * k, N * k, N * k]);
      expect(first.launches.filter((l) => l.key.startsWith('moe.groupedMatmul|')).length).toBe(3 + 6);
      // The only scatter-adds are the router's (top-k backward), as in dropless: no expert-buffer scatter.
      const scatters = (ls: { key: string }[]) => ls.filter((l) => l.key.startsWith('scatteradd')).length;
      const dropless = await tracedRun(backend, vals, [N, D, E, F], { topK: k });
      expect(scatters(first.launches)).toBe(scatters(dropless.launches));
      // Deterministic: a second run is bitwise equal (forwardBackward also fails on any leaked buffer).
      const second = await tracedRun(backend, vals, [N, D, E, F], options);
      expect(second.result.outputs).toEqual(first.result.outputs);
      expect(second.result.grads).toEqual(first.result.grads);
      // The interception sees the tensor package's launches: the padded path does scatter.
      const padded = await (async () => {
        const rt = runtimeOf(backend)!;
        const keys: string[] = [];
        const dispatch = rt.dispatch.bind(rt);
        rt.dispatch = (spec) => {
          keys.push(spec.pipelineKey);
          dispatch(spec);
        };
        try {
          const x = tensor(vals[0]!, { shape: [N, D], backend });
          const idx = tensor(
            Array.from({ length: N * k }, (_, a) => a % E),
            { shape: [N, k], dtype: 'i32', backend },
          );
          const plan = planDispatch(idx, E, C);
          const buf = dispatchTokens(x, plan);
          for (const t of [x, idx, buf, plan.rows, plan.tokens, plan.tokensPerExpert, plan.dropped])
            t.dispose();
        } finally {
          rt.dispatch = dispatch;
        }
        return keys;
      })();
      expect(padded.filter((key) => key.startsWith('scatteradd')).length).toBeGreaterThan(0);
    },
  );

  gpuTest('on WebGPU with odd sizes and k = 3 matches the f64 CPU op, drops counted', async ({ backend }) => {
    const [N, D, E, F] = [37, 9, 7, 13];
    const options = { topK: 3, capacityFactor: 0.7, normalizeTopK: true };
    const vals = skewedValues(N, D, E, F, 14, 5, 2);
    const want = hostCapacityLayout(
      await routedIndices(vals, N, D, E, 3),
      N,
      3,
      E,
      expertCapacity(N, 3, E, 0.7),
    );
    const gpu = await tracedRun(backend, vals, [N, D, E, F], options);
    const ref = await forwardBackward(cpuF64, specs(N, D, E, F), vals, (t) => [
      capacityRef(t, want.kept, options),
    ]);
    expect(maxRelDiff([gpu.result.outputs[0]!], ref.outputs)).toBeLessThan(1e-4);
    expect(maxRelDiff(gpu.result.grads, ref.grads)).toBeLessThan(1e-4);
    expect(gpu.result.outputs[1]![0]).toBe(want.dropped);
    expect(want.dropped).toBeGreaterThan(0);
  });
});
