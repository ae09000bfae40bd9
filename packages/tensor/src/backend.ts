import type { DType, TypedArray } from './dtype.js';
import { TensorError } from './errors.js';

/**
 * A backend's opaque storage handle. Each backend defines what is behind it
 * (a typed array on the CPU, a pooled `GPUBuffer` on WebGPU).
 */
export interface BackendBuffer {
  /** Capacity in elements of the dtype it was allocated for. */
  readonly length: number;
  readonly dtype: DType;
}

/**
 * A strided window onto a buffer. Strides and offset count elements. Stride 0
 * marks a broadcast dimension.
 */
export interface View {
  readonly buffer: BackendBuffer;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Elementwise one-input ops. `alpha`/`beta` are scalar parameters where the op has them. */
export type UnaryOp =
  | 'copy' // y = x (also casts between dtypes)
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'sigmoid'
  | 'silu'
  | 'gelu' // exact (erf) GELU
  | 'gelu_tanh'
  | 'softplus'
  | 'relu'
  | 'floor'
  | 'affine' // alpha * x + beta
  | 'pow_scalar' // x ** alpha
  | 'rpow_scalar' // alpha ** x
  | 'clamp' // min(max(x, alpha), beta)
  | 'max_scalar' // max(x, alpha)
  | 'min_scalar' // min(x, alpha)
  | 'gt_scalar' // x > alpha ? 1 : 0
  | 'lt_scalar'
  | 'ge_scalar'
  | 'le_scalar'
  | 'eq_scalar'
  | 'rdiv_scalar' // alpha / x
  | 'isfinite'; // 1 when finite else 0

/** Elementwise two-input ops. Comparisons write 1 or 0 in the output dtype. */
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

export type RandomKind = 'uniform' | 'normal' | 'bits';

/** Arguments of {@link Backend.crossEntropy}: logits `[rows, n]`, i32 targets `[rows]`; writes losses and the row logsumexp `[rows]`. */
export interface CrossEntropyArgs {
  readonly logits: BackendBuffer;
  readonly targets: BackendBuffer;
  readonly rows: number;
  readonly n: number;
  readonly ignoreIndex: number;
  readonly losses: BackendBuffer;
  readonly lse: BackendBuffer;
}

/** Arguments of {@link Backend.crossEntropyBackward}: `g` is the upstream gradient per row `[rows]`; writes dlogits `[rows, n]`. */
export interface CrossEntropyBackwardArgs {
  readonly logits: BackendBuffer;
  readonly targets: BackendBuffer;
  readonly lse: BackendBuffer;
  readonly g: BackendBuffer;
  readonly rows: number;
  readonly n: number;
  readonly ignoreIndex: number;
  readonly dlogits: BackendBuffer;
}

/** Arguments of {@link Backend.norm}: contiguous x `[rows, n]`, optional weight/bias `[n]`; writes out, `mean` (LayerNorm only, else null) and `rstd` `[rows]`. */
export interface NormArgs {
  readonly kind: 'rms' | 'layer';
  readonly x: BackendBuffer;
  readonly weight: BackendBuffer | null;
  readonly bias: BackendBuffer | null;
  readonly rows: number;
  readonly n: number;
  readonly eps: number;
  readonly out: BackendBuffer;
  readonly mean: BackendBuffer | null;
  readonly rstd: BackendBuffer;
  /** Fused residual add: normalise `x + residual` `[rows, n]`, written to `sum` (both or neither). */
  readonly residual?: BackendBuffer | null;
  readonly sum?: BackendBuffer | null;
}

/** Arguments of {@link Backend.normBackward}: the forward's x, weight and stats, upstream dy; writes dx `[rows, n]`. */
export interface NormBackwardArgs {
  readonly kind: 'rms' | 'layer';
  readonly x: BackendBuffer;
  readonly weight: BackendBuffer | null;
  readonly mean: BackendBuffer | null;
  readonly rstd: BackendBuffer;
  readonly dy: BackendBuffer;
  readonly rows: number;
  readonly n: number;
  readonly dx: BackendBuffer;
  /** Added to dx: the gradient reaching a fused residual sum by its other path (`[rows, n]`). */
  readonly dresidual?: BackendBuffer | null;
  /** Written when given: `Σ_rows dy·xhat` and `Σ_rows dy` (`[n]`), the weight and bias gradients. */
  readonly dweight?: BackendBuffer | null;
  readonly dbias?: BackendBuffer | null;
}

/** Arguments of {@link Backend.gather}: x `[outer, size, inner]`, i32 idx `[count]`; writes out `[outer, count, inner]`. */
export interface GatherArgs {
  readonly x: BackendBuffer;
  readonly idx: BackendBuffer;
  readonly outer: number;
  readonly size: number;
  readonly inner: number;
  readonly count: number;
  readonly out: BackendBuffer;
}

/** Arguments of {@link Backend.scatterAdd}: src `[outer, count, inner]`, i32 idx `[count]`; writes out `[outer, size, inner]`. */
export interface ScatterAddArgs {
  readonly src: BackendBuffer;
  readonly idx: BackendBuffer;
  readonly outer: number;
  readonly count: number;
  readonly inner: number;
  readonly size: number;
  readonly out: BackendBuffer;
}

/** One run of {@link Backend.copyRuns}: `length` consecutive elements at `offset` of `buffer` and at `sharedOffset` of the shared buffer. */
export interface CopyRun {
  readonly buffer: BackendBuffer;
  readonly offset: number;
  readonly sharedOffset: number;
  readonly length: number;
}

/** Arguments of {@link Backend.copyRuns}. */
export interface CopyRunsArgs {
  /** `gather`: each run's buffer into `shared`; `scatter`: `shared` into each run's buffer. */
  readonly direction: 'gather' | 'scatter';
  readonly shared: BackendBuffer;
  /** All of `shared`'s dtype (no cast). Written regions must not overlap each other or a region read. */
  readonly runs: readonly CopyRun[];
  /** Names the work in profiles (WebGPU: the pipeline keys start with it). Default `copyRuns`. */
  readonly label?: string;
}

/** Throws unless every run of `args` has the shared buffer's dtype and lies inside both buffers. */
export function checkCopyRuns(args: CopyRunsArgs): void {
  const { shared } = args;
  const inside = (b: BackendBuffer, offset: number, length: number) =>
    Number.isInteger(offset) &&
    Number.isInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= b.length;
  for (const r of args.runs) {
    if (r.buffer.dtype !== shared.dtype)
      throw new TensorError('copyRuns', `a ${r.buffer.dtype} run with a ${shared.dtype} shared buffer`);
    if (!inside(r.buffer, r.offset, r.length) || !inside(shared, r.sharedOffset, r.length))
      throw new TensorError(
        'copyRuns',
        `run of ${r.length} at ${r.offset} (of ${r.buffer.length}) / ${r.sharedOffset} (of ${shared.length}) is out of bounds`,
      );
  }
}

/**
 * The primitive kernels every backend implements. Tensor ops and their
 * gradients are built from these. Every output buffer is contiguous, starts
 * at element 0, and is fully written by the call (buffers may be poisoned).
 * Calls are asynchronous on the GPU: they enqueue work; only `read` and
 * `sync` wait.
 */
export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** Whether `f16` tensors can be stored and computed on this backend. */
  readonly supportsF16: boolean;

  alloc(length: number, dtype: DType): BackendBuffer;
  /** Returns a buffer to the backend (pool); it must not be used afterwards. */
  free(buffer: BackendBuffer): void;
  /** Creates a buffer holding `data` converted to `dtype`. */
  upload(data: ArrayLike<number>, dtype: DType): BackendBuffer;
  /** Reads a view as a contiguous host array (f16 widens to Float32Array). */
  read(view: View): Promise<TypedArray>;
  /** Waits until all enqueued work is done and surfaces deferred GPU errors. */
  sync(): Promise<void>;
  /** Number of live (allocated, not freed) buffers and their bytes. */
  liveBuffers(): number;
  liveBytes(): number;

  fill(out: BackendBuffer, length: number, value: number): void;
  /** out[i] = start + i * step */
  arange(out: BackendBuffer, length: number, start: number, step: number): void;
  /**
   * Philox-4x32-10 random numbers from `seed` (two u32 words) starting at
   * counter `offset`: element i uses counter (offset + floor(i / 4)) and word i % 4.
   * uniform: [0, 1) as (bits >>> 8) * 2^-24; normal: Box-Muller on pairs of uniforms;
   * bits: the raw u32 words. Identical bit patterns on every backend.
   */
  random(
    out: BackendBuffer,
    length: number,
    kind: RandomKind,
    seed: readonly [number, number],
    offset: number,
  ): void;

  /** out = op(x) elementwise; out has x's shape (contiguous) and its own dtype. */
  unary(op: UnaryOp, x: View, out: BackendBuffer, alpha?: number, beta?: number): void;
  /** out = op(a, b); a and b are views already broadcast to `out`'s shape. */
  binary(op: BinaryOp, a: View, b: View, out: BackendBuffer): void;
  /** out = cond != 0 ? a : b; all three already broadcast to the output shape. */
  where(cond: View, a: View, b: View, out: BackendBuffer): void;
  /** Strided copy (with dtype cast) of `src` into the strided window `dst`; shapes equal. */
  copy(src: View, dst: View): void;
  /**
   * Many contiguous copies at once, all to or all from one shared buffer
   * (see {@link CopyRunsArgs}): WebGPU runs up to 15 in one dispatch. Writes
   * only the runs' regions.
   */
  copyRuns(args: CopyRunsArgs): void;

  /**
   * Reduces the last `reduceRank` dimensions of `x`. Output shape is
   * `x.shape.slice(0, rank - reduceRank)`; arg-reductions write i32 flat
   * indices over the reduced dimensions (first occurrence wins).
   */
  reduce(op: ReduceOp, x: View, reduceRank: number, out: BackendBuffer): void;

  /**
   * Batched matmul: a `[batch, m, k]`, b `[batch, k, n]` (any strides, batch
   * stride 0 for broadcast), out `[batch, m, n]` contiguous.
   */
  matmul(a: View, b: View, out: BackendBuffer): void;

  /** Row-wise (log-)softmax over the last axis of a contiguous `[rows, n]` buffer. */
  softmax(x: BackendBuffer, rows: number, n: number, out: BackendBuffer, log: boolean): void;
  /** dx from y = (log-)softmax(x) and dy; all `[rows, n]`. */
  softmaxBackward(
    y: BackendBuffer,
    dy: BackendBuffer,
    rows: number,
    n: number,
    dx: BackendBuffer,
    log: boolean,
  ): void;

  /**
   * Per-row cross-entropy of logits `[rows, n]` against i32 targets `[rows]`;
   * rows whose target equals `ignoreIndex` get loss 0. Writes losses `[rows]` and
   * the row logsumexp `[rows]` (for the backward).
   */
  crossEntropy(args: CrossEntropyArgs): void;
  /** dlogits[r, j] = g[r] * (softmax[r, j] - [j == target[r]]), 0 on ignored rows. */
  crossEntropyBackward(args: CrossEntropyBackwardArgs): void;

  /**
   * Row normalisation of contiguous `[rows, n]`: RMSNorm (`kind: 'rms'`) or
   * LayerNorm. `weight`/`bias` `[n]` optional. Writes `out` and per-row stats
   * `mean` (LayerNorm only; pass null for rms) and `rstd` `[rows]`.
   */
  norm(args: NormArgs): void;
  /** dx of the normalisation above given dy (weight gradients are composed by the caller). */
  normBackward(args: NormBackwardArgs): void;

  /**
   * out[o, i, r] = x[o, idx[i], r] for contiguous x `[outer, size, inner]` and
   * i32 idx `[count]`; out `[outer, count, inner]`. Out-of-range indices write 0.
   */
  gather(args: GatherArgs): void;
  /**
   * out[o, v, r] = sum over i with idx[i] == v of src[o, i, r]; src `[outer, count, inner]`,
   * out `[outer, size, inner]` (fully written, zeros where nothing lands). Deterministic order.
   */
  scatterAdd(args: ScatterAddArgs): void;
  /** Inclusive prefix sum along the middle axis of contiguous `[outer, n, inner]`; `reverse` scans from the end. */
  cumsum(
    x: BackendBuffer,
    outer: number,
    n: number,
    inner: number,
    reverse: boolean,
    out: BackendBuffer,
  ): void;
  /** The k largest of each row of `[rows, n]`, sorted descending (ties: lower index first). */
  topk(
    x: BackendBuffer,
    rows: number,
    n: number,
    k: number,
    values: BackendBuffer,
    indices: BackendBuffer,
  ): void;
}
