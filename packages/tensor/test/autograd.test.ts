import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

const cpu = () => new T.CpuBackend({ poison: true });

describe('autograd tape', () => {
  it('accumulates gradients over uses and over backward calls', async () => {
    const backend = cpu();
    const x = T.tensor([1, 2, 3], { backend }).requireGrad();
    T.tidy(() => T.sum(T.add(T.mul(x, x), x)).backward()); // d/dx (x^2 + x) = 2x + 1
    expect(await x.grad!.toArray()).toEqual([3, 5, 7]);
    T.tidy(() => T.sum(T.mul(x, 2)).backward());
    expect(await x.grad!.toArray()).toEqual([5, 7, 9]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });

  it('records nothing under noGrad and through detach', () => {
    const backend = cpu();
    const x = T.tensor([1, 2], { backend }).requireGrad();
    T.tidy(() => {
      expect(T.noGrad(() => T.mul(x, 3)).requiresGrad).toBe(false);
      expect(T.mul(x.detach(), 3).requiresGrad).toBe(false);
      expect(T.mul(x, 3).requiresGrad).toBe(true);
    });
    x.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });

  it('refuses a second backward through a freed graph, and non-scalar roots without a gradient', () => {
    const backend = cpu();
    const x = T.tensor([1, 2], { backend }).requireGrad();
    T.tidy(() => {
      const y = T.mul(x, x);
      expect(() => y.backward()).toThrow(/non-scalar root \[2\]/);
      const s = T.sum(y);
      s.backward();
      expect(() => T.sum(T.mul(y, 1)).backward()).toThrow(/already freed/);
    });
    x.dispose();
  });

  it('frees saved tensors when an unused graph is dropped (no backward)', () => {
    const backend = cpu();
    const x = T.tensor([1, 2, 3], { backend }).requireGrad();
    const before = backend.liveBuffers();
    T.tidy(() => {
      T.sum(T.exp(T.mul(x, x)));
    });
    expect(backend.liveBuffers()).toBe(before);
    x.dispose();
  });

  it('supports multi-output ops (split) and gradients reaching only used outputs', async () => {
    const backend = cpu();
    const x = T.tensor([1, 2, 3, 4], { backend }).requireGrad();
    T.tidy(() => {
      const [a, b] = T.split(x, [1, 3]);
      T.sum(T.mul(b!, 10)).backward();
      void a;
    });
    expect(await x.grad!.toArray()).toEqual([0, 10, 10, 10]);
    x.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });

  it('custom differentiable ops register through record()', async () => {
    const backend = cpu();
    // cube with a hand-written backward: d(x^3) = 3x^2
    const cube = (x: T.Tensor) => {
      const y = T.noGrad(() => T.mul(T.mul(x, x), x));
      T.record('cube', [x], [y], [x], ([g], [sx]) => [T.mul(g!, T.mul(T.square(sx!), 3))]);
      return y;
    };
    const x = T.tensor([1, -2], { backend }).requireGrad();
    T.tidy(() => T.sum(cube(x)).backward());
    expect(await x.grad!.toArray()).toEqual([3, 12]);
    x.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });
});

describe('scopes and ownership', () => {
  it('tidy disposes intermediates and keeps returned tensors', () => {
    const backend = cpu();
    const out = T.tidy(() => {
      const a = T.ones([4], { backend });
      const b = T.add(a, 1);
      return { b, list: [T.mul(b, 2)] };
    });
    expect(backend.liveBuffers()).toBe(2);
    out.b.dispose();
    out.list[0]!.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });

  it('views share storage; the buffer is freed with the last handle', () => {
    const backend = cpu();
    const a = T.arange(6, undefined, 1, { backend });
    const v = T.reshape(a, [2, 3]);
    const t = T.transpose(v);
    a.dispose();
    v.dispose();
    expect(backend.liveBuffers()).toBe(1);
    t.dispose();
    expect(backend.liveBuffers()).toBe(0);
  });

  it('using-style scopes close with Symbol.dispose', () => {
    const backend = cpu();
    {
      using _scope = T.tensorScope();
      T.zeros([3], { backend });
      expect(backend.liveBuffers()).toBe(1);
    }
    expect(backend.liveBuffers()).toBe(0);
  });

  it('a disposed tensor cannot be used', () => {
    const backend = cpu();
    const a = T.ones([2], { backend });
    a.dispose();
    expect(() => T.add(a, 1)).toThrow(/disposed/);
  });
});

describe('errors name the op and the shapes', () => {
  const backend = cpu();
  it.each([
    [
      'add',
      () => T.add(T.zeros([2, 3], { backend }), T.zeros([4], { backend })),
      /add: shapes \[2, 3\] and \[4\] do not broadcast/,
    ],
    [
      'matmul',
      () => T.matmul(T.zeros([2, 3], { backend }), T.zeros([4, 5], { backend })),
      /matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/,
    ],
    [
      'reshape',
      () => T.reshape(T.zeros([2, 3], { backend }), [4]),
      /reshape: cannot reshape \[2, 3\] \(6 elements\) into \[4\]/,
    ],
    [
      'dtype',
      () => T.add(T.zeros([2], { backend }), T.zeros([2], { backend, dtype: 'i32' })),
      /add: dtype mismatch: f32\[2\] vs i32\[2\]/,
    ],
    [
      'crossEntropy',
      () => T.crossEntropy(T.zeros([3, 5], { backend }), T.zeros([4], { backend, dtype: 'i32' })),
      /crossEntropy: logits \[3, 5\] need targets of shape \[3\], got \[4\]/,
    ],
    ['axis', () => T.sum(T.zeros([2], { backend }), 3), /sum: axis 3 is out of range for rank 1/],
    [
      'backends',
      () => T.add(T.zeros([2], { backend }), T.zeros([2], { backend: cpu() })),
      /different backends/,
    ],
  ])('%s', (_name, fn, re) => {
    expect(() => T.tidy(fn)).toThrow(re);
  });
});

describe('philox', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    // Random123 kat_vectors: philox4x32_10, counter 0, key 0
    T.philox4x32(0, [0, 0], out);
    expect(Array.from(out, (v) => v.toString(16).padStart(8, '0'))).toEqual([
      '6627e8d5',
      'e169c58d',
      'bc57ac4c',
      '9b00dbd8',
    ]);
  });
});
