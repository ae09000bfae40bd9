import { type Backend, CpuBackend, isTensor, type Tensor, tensor } from '@dynconv/tensor';
import { type InputSpec, testRng } from '@dynconv/tensor/testing';
import { namedParameters } from '../src/index.js';

export const cpu = new CpuBackend({ precision: 'f32', poison: true });

/** A seeded normal tensor. */
export const randomTensor = (
  shape: readonly number[],
  seed: number,
  backend: Backend = cpu,
  scale = 1,
): Tensor => {
  const rng = testRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Array.from({ length: n }, () => scale * rng.normal()),
    { shape, backend },
  );
};

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
};

/**
 * checkOp input specs for every parameter of a layer (in `namedParameters`
 * order), drawn from N(0, scale²): unit-variance weights in a deep layer make
 * the loss so large and curved that float64 finite differences lose accuracy.
 */
export const paramSpecs = (layer: unknown, scale = 0.3, seed = 99): InputSpec[] => {
  const rng = testRng(seed);
  return [...namedParameters(layer).values()].map((t) => ({
    shape: t.shape,
    init: () => scale * rng.normal(),
  }));
};

/**
 * A copy of `layer` whose parameters are replaced, in `namedParameters`
 * order, by `tensors` (e.g. checkOp's inputs on its float64 backend).
 */
export function rebind<T>(layer: T, tensors: readonly Tensor[]): T {
  let i = 0;
  const walk = (v: unknown): unknown => {
    if (isTensor(v)) {
      const t = tensors[i++];
      if (!t) throw new Error('rebind: too few tensors');
      return t;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
      return Object.fromEntries(Object.entries(v).map(([k, c]) => [k, walk(c)]));
    return v;
  };
  const out = walk(layer) as T;
  if (i !== tensors.length) throw new Error(`rebind: ${tensors.length} tensors for ${i} parameters`);
  return out;
}

/** docStart values for `[B, T]` given the document starts of each row. */
export const docStartTensor = (
  starts: readonly (readonly number[])[],
  T: number,
  backend: Backend = cpu,
): Tensor => {
  const values: number[] = [];
  for (const cuts of starts)
    for (let t = 0; t < T; t++) values.push(Math.max(0, ...cuts.filter((s) => s <= t)));
  return tensor(Int32Array.from(values), { shape: [starts.length, T], backend });
};
