import type { Backend } from '../backend.js';
import { getDefaultBackend } from '../device.js';
import type { DType } from '../dtype.js';
import { TensorError } from '../errors.js';
import { seedKey } from '../random/philox.js';
import { assertShape, numel } from '../shape.js';
import { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';
import { add, cast, floor, mul } from './elementwise.js';
import { empty } from './util.js';

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
}

type Nested = number | readonly Nested[];

const flattenNested = (data: Nested, shape: number[], out: number[], depth: number): void => {
  if (typeof data === 'number') {
    if (depth !== shape.length && shape.length > 0) throw new TensorError('tensor', 'ragged nested array');
    out.push(data);
    return;
  }
  if (shape.length === depth) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new TensorError('tensor', 'ragged nested array');
  for (const d of data) flattenNested(d, shape, out, depth + 1);
};

/**
 * A tensor from host data: a typed array or flat array with `shape`, a nested
 * array, or a number (scalar). Default dtype f32 (i32 for an Int32Array).
 */
export function tensor(
  data: ArrayLike<number> | Nested,
  options: CreateOptions & { shape?: readonly number[] } = {},
): Tensor {
  let flat: ArrayLike<number>;
  let shape: readonly number[];
  if (typeof data === 'number') {
    flat = [data];
    shape = options.shape ?? [];
  } else if (Array.isArray(data) && !options.shape) {
    const s: number[] = [];
    const out: number[] = [];
    flattenNested(data as Nested, s, out, 0);
    flat = out;
    shape = s;
  } else {
    flat = data as ArrayLike<number>;
    shape = options.shape ?? [flat.length];
  }
  assertShape(shape, 'tensor');
  if (numel(shape) !== flat.length)
    throw new TensorError('tensor', `${flat.length} values do not fill shape [${shape.join(', ')}]`);
  const dtype =
    options.dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  const backend = options.backend ?? getDefaultBackend();
  return new Tensor(new Storage(backend, backend.upload(flat, dtype)), [...shape], dtype);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  assertShape(shape, 'full');
  const backend = options.backend ?? getDefaultBackend();
  const t = empty(backend, shape, options.dtype ?? 'f32');
  backend.fill(t.storage.buffer, t.size, value);
  return t;
}

export const zeros = (shape: readonly number[], options: CreateOptions = {}): Tensor =>
  full(shape, 0, options);
export const ones = (shape: readonly number[], options: CreateOptions = {}): Tensor =>
  full(shape, 1, options);
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, { dtype: t.dtype, backend: t.backend });
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, { dtype: t.dtype, backend: t.backend });

/** `[start, end)` in steps of `step` (one argument: `[0, start)`). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new TensorError('arange', 'step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const backend = options.backend ?? getDefaultBackend();
  const t = empty(backend, [n], options.dtype ?? 'f32');
  backend.arange(t.storage.buffer, n, start, step);
  return t;
}

/**
 * A counter-based random stream: a seed plus a position. Each draw of n values
 * consumes ceil(n / 4) Philox counters, so streams are reproducible on every
 * backend and can be saved (`state`) and restored exactly.
 */
export class Generator {
  constructor(
    public seed: number,
    public offset = 0,
  ) {}

  /** Reserves counters for `n` values and returns the first counter. */
  advance(n: number): number {
    const start = this.offset;
    this.offset += Math.ceil(n / 4);
    return start;
  }

  get state(): { seed: number; offset: number } {
    return { seed: this.seed, offset: this.offset };
  }

  setState(state: { seed: number; offset: number }): void {
    this.seed = state.seed;
    this.offset = state.offset;
  }
}

let globalGenerator = new Generator(0);

/** Reseeds the default generator. */
export const manualSeed = (seed: number): void => {
  globalGenerator = new Generator(seed);
};
export const defaultGenerator = (): Generator => globalGenerator;

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

const random = (kind: 'uniform' | 'normal', shape: readonly number[], options: RandomOptions): Tensor => {
  assertShape(shape, kind);
  const backend = options.backend ?? getDefaultBackend();
  const gen = options.generator ?? globalGenerator;
  const n = numel(shape);
  const dtype = options.dtype ?? 'f32';
  const t = empty(backend, shape, 'f32');
  backend.random(t.storage.buffer, n, kind, seedKey(gen.seed), gen.advance(n));
  if (dtype === 'f32') return t;
  const c = cast(t, dtype);
  t.dispose();
  return c;
};

/** Standard normal samples (Philox + Box-Muller). */
export const randn = (shape: readonly number[], options: RandomOptions = {}): Tensor =>
  random('normal', shape, options);
/** Uniform samples in [0, 1). */
export const rand = (shape: readonly number[], options: RandomOptions = {}): Tensor =>
  random('uniform', shape, options);

/** Integers uniform in `[low, high)` (i32); exact for ranges below 2^24. */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  options: RandomOptions = {},
): Tensor {
  if (!(high > low)) throw new TensorError('randint', `empty range [${low}, ${high})`);
  const u = rand(shape, { ...options, dtype: 'f32' });
  const s = mul(u, high - low);
  u.dispose();
  const scaled = add(s, low);
  s.dispose();
  const fl = floor(scaled);
  scaled.dispose();
  const out = cast(fl, 'i32');
  fl.dispose();
  return out;
}
