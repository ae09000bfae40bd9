import { describe, expect } from 'vitest';
import * as T from '../src/index.js';
import { BindGroupCache } from '../src/webgpu/bind-group-cache.js';
import type { StorageBinding } from '../src/webgpu/runtime.js';
import { test } from './gpu-fixture.js';

/**
 * Bind groups are cached by the buffers they bind; a training step that
 * repeats must get the same pooled buffers each step, so from the second
 * step on (almost) no dispatch creates a bind group. `createBindGroup` is
 * the largest host cost per dispatch when it misses (see
 * docs/results/perf-notes.md §5).
 */

/** Counts `device.createBindGroup` calls while `fn` runs. */
async function countBindGroups(device: GPUDevice, fn: () => Promise<void>): Promise<number> {
  const original = device.createBindGroup;
  let calls = 0;
  device.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
    calls++;
    return original.call(this, descriptor);
  };
  try {
    await fn();
  } finally {
    device.createBindGroup = original;
  }
  return calls;
}

/** A one-block transformer-like model trained with an in-place AdamW-like update (the fused optimizer's allocation pattern). */
function makeTrainer(backend: T.Backend) {
  const [B, S, D, V] = [2, 8, 16, 23];
  const gen = new T.Generator(5);
  const init = (shape: number[], scale: number) =>
    T.tidy(() => T.mul(T.randn(shape, { backend, generator: gen }), scale)).requireGrad();
  const params = new Map<string, T.Tensor>([
    ['emb', init([V, D], 0.5)],
    ['norm', T.ones([D], { backend }).requireGrad()],
    ['wqkv', init([D, 3 * D], 1 / Math.sqrt(D))],
    ['w1', init([D, 2 * D], 1 / Math.sqrt(D))],
    ['b1', T.zeros([2 * D], { backend }).requireGrad()],
    ['w2', init([2 * D, V], 1 / Math.sqrt(2 * D))],
  ]);
  const moments = new Map([...params].map(([k, p]) => [k, [T.zerosLike(p), T.zerosLike(p)] as const]));
  const ids = Array.from({ length: B * S }, (_, i) => (i * 5 + 3) % V);
  const input = T.tensor(ids, { shape: [B, S], dtype: 'i32', backend });
  const target = T.tensor(
    ids.map((t) => (t * 3 + 1) % V),
    { shape: [B, S], dtype: 'i32', backend },
  );
  const w = (k: string) => params.get(k)!;
  const step = async (): Promise<number> => {
    const loss = T.tidy(() => {
      const x = T.embedding(w('emb'), input);
      const h = T.rmsNorm(x, w('norm'));
      const [q, k, v] = T.split(T.matmul(h, w('wqkv')), 3, -1);
      const att = T.matmul(T.softmax(T.mul(T.matmul(q!, T.transpose(k!)), 1 / Math.sqrt(D))), v!);
      const y = T.add(x, att);
      const logits = T.matmul(T.gelu(T.add(T.matmul(y, w('w1')), w('b1'))), w('w2'));
      const l = T.crossEntropy(logits, target);
      l.backward();
      return l;
    });
    T.noGrad(() => {
      for (const [name, p] of params) {
        const [m, v] = moments.get(name)!;
        T.tidy(() => {
          const g = p.grad!;
          const mn = T.add(T.mul(m, 0.9), T.mul(g, 0.1));
          const vn = T.add(T.mul(v, 0.99), T.mul(T.square(g), 0.01));
          const next = T.sub(p, T.mul(T.div(mn, T.add(T.sqrt(vn), 1e-8)), 0.01));
          for (const [src, dst] of [
            [mn, m],
            [vn, v],
            [next, p],
          ] as const)
            p.backend.copy(src.view(), dst.view());
        });
        p.zeroGrad();
      }
    });
    const value = await loss.item();
    loss.dispose();
    return value;
  };
  const dispose = () => {
    for (const t of [...params.values(), ...[...moments.values()].flat(), input, target]) t.dispose();
  };
  return { step, dispose };
}

describe('bind-group reuse across training steps', () => {
  test('from step 2 on, a repeated step creates (almost) no bind group', async ({ backend }) => {
    const rt = backend.runtime;
    const trainer = makeTrainer(backend);
    const steps: { created: number; counted: number; dispatches: number; loss: number }[] = [];
    for (let s = 0; s < 5; s++) {
      const before = rt.stats();
      let loss = 0;
      const created = await countBindGroups(rt.device, async () => {
        loss = await trainer.step();
        await backend.sync();
      });
      const after = rt.stats();
      steps.push({
        created,
        counted: after.bindGroupsCreated - before.bindGroupsCreated,
        dispatches: after.dispatches - before.dispatches,
        loss,
      });
    }
    trainer.dispose();
    // Step 1 fills the cache; steps 3+ (2+ in practice) repeat its buffers.
    expect(steps[0]!.created).toBeGreaterThan(steps[0]!.dispatches / 2);
    for (const s of steps.slice(2)) expect(s.created).toBeLessThanOrEqual(0.1 * s.dispatches);
    // The runtime's own counter agrees with the device calls.
    for (const s of steps) expect(s.counted).toBe(s.created);
    // Same work each step, and the model still learns.
    expect(new Set(steps.map((s) => s.dispatches)).size).toBe(1);
    expect(steps[4]!.loss).toBeLessThan(steps[0]!.loss);
  });
});

describe('BindGroupCache', () => {
  test('keys on layout, uniform slot and buffer identity; evicts by generation', ({ backend }) => {
    const device = backend.runtime.device;
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: 0x4, buffer: { type: 'uniform', hasDynamicOffset: true } },
      { binding: 1, visibility: 0x4, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: 0x4, buffer: { type: 'storage' } },
    ];
    const layout = device.createBindGroupLayout({ entries });
    const code = 0b110; // leading 1, then r, w
    const uniforms = device.createBuffer({ size: 4096, usage: 0x40 | 0x8 });
    const buffers = Array.from({ length: 8 }, () => device.createBuffer({ size: 256, usage: 0x80 }));
    const pair = (i: number, j: number): StorageBinding[] => [
      { buffer: buffers[i]! },
      { buffer: buffers[j]!, write: true },
    ];
    const cache = new BindGroupCache(device, uniforms, 4);

    const g01 = cache.get(layout, code, 256, pair(0, 1));
    expect(cache.get(layout, code, 256, pair(0, 1))).toBe(g01); // fresh binding objects, same buffers: a hit
    expect(cache.created).toBe(1);
    expect(cache.get(layout, code, 256, pair(1, 0))).not.toBe(g01); // order matters
    expect(cache.get(layout, code, 512, pair(0, 1))).not.toBe(g01); // so does the uniform slot
    expect(cache.created).toBe(3);

    // Generation of 4: g01, g10, g01@512, g23 fill it; g45 starts a new one, the first four stay reachable.
    cache.get(layout, code, 256, pair(2, 3));
    cache.get(layout, code, 256, pair(4, 5));
    expect(cache.created).toBe(5);
    expect(cache.get(layout, code, 256, pair(0, 1))).toBe(g01); // from the previous generation, moved up
    expect(cache.created).toBe(5);
    // Two more generations later, an entry nobody used is gone; the one used recently is not.
    for (const [i, j] of [
      [6, 7],
      [7, 6],
      [5, 4],
      [3, 2],
      [2, 1],
    ] as const)
      cache.get(layout, code, 256, pair(i, j));
    expect(cache.created).toBe(10);
    expect(cache.get(layout, code, 256, pair(0, 1))).toBe(g01);
    expect(cache.created).toBe(10);
    cache.get(layout, code, 256, pair(1, 0));
    expect(cache.created).toBe(11);
    cache.clear();
    expect(cache.get(layout, code, 256, pair(2, 1))).toBeDefined();
    expect(cache.created).toBe(12);
    for (const b of [uniforms, ...buffers]) b.destroy();
  });
});
