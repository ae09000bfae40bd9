import { describe, expect } from 'vitest';
import * as T from '../src/index.js';
import { test } from './gpu-fixture.js';

/**
 * End to end: a 2-layer MLP language model over a tiny synthetic sequence
 * task trains for a few SGD steps on the CPU reference backend and on WebGPU.
 * The loss must fall on both, the two loss curves must agree, and a training
 * step must not leak buffers.
 */
async function trainMlp(backend: T.Backend, steps: number): Promise<{ losses: number[]; leaked: number }> {
  const vocab = 13;
  const dim = 16;
  const hidden = 32;
  const gen = new T.Generator(7);
  const init = (shape: number[], scale: number) =>
    T.tidy(() => T.mul(T.randn(shape, { backend, generator: gen }), scale)).requireGrad();
  const params = {
    emb: init([vocab, dim], 0.5),
    w1: init([dim, hidden], 1 / Math.sqrt(dim)),
    b1: T.zeros([hidden], { backend }).requireGrad(),
    w2: init([hidden, vocab], 1 / Math.sqrt(hidden)),
  };
  // Task: predict (token * 3 + 1) mod vocab — learnable by a per-token MLP.
  const ids = Array.from({ length: 48 }, (_, i) => (i * 5 + 3) % vocab);
  const input = T.tensor(ids, { shape: [48], dtype: 'i32', backend });
  const target = T.tensor(
    ids.map((t) => (t * 3 + 1) % vocab),
    { shape: [48], dtype: 'i32', backend },
  );
  const losses: number[] = [];
  let leaked = 0;
  for (let step = 0; step < steps; step++) {
    const before = backend.liveBuffers();
    const loss = T.tidy(() => {
      const h = T.silu(T.add(T.matmul(T.embedding(params.emb, input), params.w1), params.b1));
      const logits = T.matmul(h, params.w2);
      const l = T.crossEntropy(logits, target);
      l.backward();
      return l;
    });
    T.noGrad(() => {
      for (const p of Object.values(params)) {
        const updated = T.tidy(() => T.sub(p, T.mul(p.grad!, 0.5)));
        p.storage.backend.copy(updated.view(), p.view());
        updated.dispose();
        p.zeroGrad();
      }
    });
    losses.push(await loss.item());
    loss.dispose();
    await backend.sync();
    leaked = Math.max(leaked, backend.liveBuffers() - before);
  }
  for (const p of Object.values(params)) p.dispose();
  input.dispose();
  target.dispose();
  return { losses, leaked };
}

describe('end-to-end training', () => {
  test('a 2-layer MLP learns on CPU and WebGPU, the backends agree, nothing leaks', async ({ backend }) => {
    const cpu = await trainMlp(new T.CpuBackend(), 12);
    const gpu = await trainMlp(backend, 12);
    expect(cpu.leaked).toBe(0);
    expect(gpu.leaked).toBe(0);
    expect(cpu.losses.at(-1)!).toBeLessThan(cpu.losses[0]! * 0.5);
    for (let i = 0; i < cpu.losses.length; i++) expect(gpu.losses[i]!).toBeCloseTo(cpu.losses[i]!, 3);
  });
});
