import { describe, expect } from 'vitest';
import * as T from '../src/index.js';
import { checkOp, type InputSpec } from '../src/testing/index.js';
import { test } from './gpu-fixture.js';

/**
 * Every differentiable op, three ways (checkOp): WebGPU forward and gradients
 * vs the float64 CPU reference, and the reference gradients vs central finite
 * differences. Odd sizes and broadcasting throughout.
 */
const f = (...shape: number[]): InputSpec => ({ shape });
const pos = (...shape: number[]): InputSpec => ({ shape, init: 'positive' });

type Case = [
  name: string,
  specs: InputSpec[],
  fn: (x: T.Tensor[]) => T.Tensor,
  tol?: { atol?: number; rtol?: number },
];

const unaryCases: Case[] = (
  [
    ['neg', T.neg],
    ['abs', T.abs],
    ['exp', T.exp],
    ['tanh', T.tanh],
    ['sigmoid', T.sigmoid],
    ['silu', T.silu],
    ['gelu', (x: T.Tensor) => T.gelu(x)],
    ['gelu_tanh', (x: T.Tensor) => T.gelu(x, 'tanh')],
    ['softplus', T.softplus],
    ['relu', T.relu],
    ['square', T.square],
    ['sin', T.sin],
    ['cos', T.cos],
  ] as const
).map(([name, op]) => [name, [f(7, 9)], ([x]) => op(x!)] as Case);

const positiveCases: Case[] = (
  [
    ['log', T.log],
    ['sqrt', T.sqrt],
    ['rsqrt', T.rsqrt],
    ['reciprocal', T.reciprocal],
  ] as const
).map(([name, op]) => [name, [pos(63)], ([x]) => op(x!)] as Case);

const cases: Case[] = [
  ...unaryCases,
  ...positiveCases,
  ['add broadcast', [f(7, 1, 5), f(3, 1)], ([a, b]) => T.add(a!, b!)],
  ['sub broadcast', [f(1, 5), f(4, 1)], ([a, b]) => T.sub(a!, b!)],
  ['mul broadcast', [f(2, 3, 5), f(5)], ([a, b]) => T.mul(a!, b!)],
  ['div', [f(7, 3), pos(7, 3)], ([a, b]) => T.div(a!, b!)],
  ['pow tensor', [pos(5, 3), f(3)], ([a, b]) => T.pow(a!, b!)],
  ['pow scalar', [pos(9)], ([a]) => T.pow(a!, 2.5)],
  ['scalar affine', [f(1)], ([a]) => T.sub(3, T.mul(a!, 2))],
  ['rdiv scalar', [pos(7)], ([a]) => T.div(2, a!)],
  ['maximum', [f(5, 4), f(4)], ([a, b]) => T.maximum(a!, b!)],
  ['where', [f(6, 5), f(5)], ([a, b]) => T.where(T.gt(a!, 0), a!, b!)],
  ['clamp', [f(33)], ([a]) => T.clamp(a!, -0.5, 0.7)],
  ['sum all', [f(7, 63)], ([a]) => T.sum(a!)],
  ['sum axes keepdims', [f(3, 4, 5)], ([a]) => T.sum(a!, [0, 2], true)],
  ['mean', [f(5, 7)], ([a]) => T.mean(a!, -1)],
  ['max', [f(6, 257)], ([a]) => T.max(a!, 1)],
  ['min', [f(6, 7)], ([a]) => T.min(a!, 0)],
  ['logsumexp', [f(4, 9)], ([a]) => T.logsumexp(a!, -1)],
  ['sum of a transposed view', [f(5, 6)], ([a]) => T.sum(T.transpose(a!), 1)],
  ['matmul 2d', [f(7, 5), f(5, 3)], ([a, b]) => T.matmul(a!, b!)],
  ['matmul batched broadcast', [f(2, 1, 3, 4), f(3, 4, 5)], ([a, b]) => T.matmul(a!, b!)],
  ['matmul transposed', [f(5, 7), f(3, 5)], ([a, b]) => T.matmul(T.transpose(a!), T.transpose(b!))],
  ['matmul vector', [f(6), f(6, 4)], ([a, b]) => T.matmul(a!, b!)],
  ['matmul odd 63', [f(1, 63), f(63, 17)], ([a, b]) => T.matmul(a!, b!)],
  ['softmax', [f(5, 257)], ([a]) => T.softmax(a!)],
  ['softmax axis 0', [f(7, 3)], ([a]) => T.softmax(a!, 0)],
  ['logSoftmax', [f(3, 63)], ([a]) => T.logSoftmax(a!)],
  [
    'crossEntropy mean with ignore',
    [f(7, 11), { shape: [7], dtype: 'i32', init: (i) => (i === 3 ? -100 : (i * 5) % 11) }],
    ([l, t]) => T.crossEntropy(l!, t!),
  ],
  [
    'crossEntropy none',
    [f(2, 3, 5), { shape: [2, 3], dtype: 'i32', init: { int: [0, 5] } }],
    ([l, t]) => T.crossEntropy(l!, t!, { reduction: 'none' }),
  ],
  ['rmsNorm', [f(5, 63), f(63)], ([x, w]) => T.rmsNorm(x!, w!, 1e-5)],
  ['rmsNorm no weight', [f(3, 7)], ([x]) => T.rmsNorm(x!)],
  ['layerNorm', [f(4, 33), f(33), f(33)], ([x, w, b]) => T.layerNorm(x!, w!, b!)],
  [
    'embedding',
    [f(11, 5), { shape: [2, 7], dtype: 'i32', init: { int: [0, 11] } }],
    ([w, i]) => T.embedding(w!, i!),
  ],
  [
    'indexSelect axis 1',
    [f(3, 8, 2), { shape: [5], dtype: 'i32', init: (i) => [7, 0, 7, 3, 1][i]! }],
    ([x, i]) => T.indexSelect(x!, 1, i!),
  ],
  [
    'scatterAdd',
    [f(6, 3), { shape: [4], dtype: 'i32', init: (i) => [5, 0, 5, 2][i]! }, f(4, 3)],
    ([x, i, s]) => T.scatterAdd(x!, 0, i!, s!),
  ],
  ['concat', [f(2, 3), f(2, 5)], ([a, b]) => T.concat([a!, b!], 1)],
  ['stack', [f(3, 2), f(3, 2)], ([a, b]) => T.stack([a!, b!], 1)],
  ['split', [f(7, 4)], ([a]) => T.mul(T.split(a!, [3, 4], 0)[1]!, 2)],
  ['cumsum', [f(4, 9)], ([a]) => T.cumsum(a!, 1)],
  ['cumsum axis 0', [f(5, 3)], ([a]) => T.cumsum(a!, 0)],
  ['topk values', [f(4, 13)], ([a]) => T.topk(a!, 3).values],
  [
    'reshape+permute+slice',
    [f(4, 6)],
    ([a]) => T.mul(T.slice(T.permute(T.reshape(a!, [2, 3, 4]), [2, 0, 1]), [[1, 4], null, [0, 3, 2]]), 3),
  ],
  ['expand', [f(3, 1)], ([a]) => T.expand(a!, [2, 3, 4])],
  ['reshape of a non-contiguous view', [f(3, 4)], ([a]) => T.reshape(T.transpose(a!), [12])],
];

describe('ops: GPU vs float64 reference vs finite differences', () => {
  for (const [name, specs, fn, tol] of cases) {
    test(name, async ({ backend }) => {
      await checkOp(name, specs, fn, { backend, ...tol });
    });
  }
});

describe('non-differentiable ops agree across backends', () => {
  test('argmax / comparisons / cast / arange / randint', async ({ backend }) => {
    const cpu = new T.CpuBackend();
    const run = async (b: T.Backend) => {
      // A scope owns every tensor made here; it is closed after the reads.
      const scope = T.tensorScope();
      try {
        const x = T.tensor([3, 9, 9, 1, -2, 7], { shape: [2, 3], backend: b });
        return [
          await T.argmax(x, 1).toArray(),
          await T.gt(x, 2).toArray(),
          await T.cast(x, 'i32').toArray(),
          await T.arange(2, 11, 3, { backend: b }).toArray(),
        ];
      } finally {
        scope.close();
      }
    };
    const want = await run(cpu);
    expect(want[0]).toEqual([1, 2]);
    expect(await run(backend)).toEqual(want);
  });

  test('randn/rand/randint give the same numbers on every backend', async ({ backend }) => {
    const cpu = new T.CpuBackend();
    const draw = async (b: T.Backend) => {
      const scope = T.tensorScope();
      try {
        const g = new T.Generator(42);
        const n = await T.randn([1001], { backend: b, generator: g }).toArray();
        const u = await T.rand([257], { backend: b, generator: g }).toArray();
        const i = await T.randint(0, 50, [63], { backend: b, generator: g }).toArray();
        return { n, u, i, offset: g.offset };
      } finally {
        scope.close();
      }
    };
    const a = await draw(cpu);
    const b = await draw(backend);
    expect(b.u).toEqual(a.u);
    expect(b.i).toEqual(a.i);
    expect(b.offset).toBe(a.offset);
    for (let k = 0; k < a.n.length; k++) expect(Math.abs(b.n[k]! - a.n[k]!)).toBeLessThan(1e-5);
    const mean = a.n.reduce((s, v) => s + v, 0) / a.n.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
  });
});
