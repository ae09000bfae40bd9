import {
  concat,
  fmtShape,
  narrow,
  reshape,
  type Tensor,
  TensorError,
  tidy,
  unsqueeze,
  zeros,
} from '@dynconv/tensor';
import { checkCache } from '../common/validate.js';
import {
  checkHeadwiseArgs,
  type DynamicConvOptions,
  dynamicConvHeadwise,
} from '../dynamic-conv-headwise/dynamic-conv-headwise.js';
import { checkLowRankArgs, dynamicConvLowRank } from '../dynamic-conv-lowrank/dynamic-conv-lowrank.js';
import { checkShortConvArgs, type ShortConvOptions, shortConv } from '../short-conv/short-conv.js';

/** Output of a decode step: the new outputs and the updated cache. */
export interface ConvStepResult {
  /** `[B, D]` for one token, `[B, n, D]` for a chunk. */
  y: Tensor;
  /** `[B, W-1, D]`: the last W-1 inputs, newest first (`cache[:, j] = x[t-1-j]`). */
  cache: Tensor;
}

export type ShortConvStepOptions = Omit<ShortConvOptions, 'docStart'>;
export type DynamicConvStepOptions = Omit<DynamicConvOptions, 'docStart'>;

/** Adds a time axis of 1 to a per-token argument (`x [B, D]` -> `[B, 1, D]`). */
const asChunk = (op: string, name: string, t: Tensor, single: boolean, rank: number): Tensor => {
  const want = single ? rank - 1 : rank;
  if (t.rank !== want)
    throw new TensorError(
      op,
      `${name} must have rank ${want} when x is ${single ? '[B, D]' : '[B, n, D]'}, got ${fmtShape(t.shape)}`,
    );
  return single ? unsqueeze(t, 1) : t;
};

/** Prepends W-1 zero steps on the time axis (taps or z of the cached positions, whose outputs are dropped). */
const padFront = (t: Tensor, W: number): Tensor => {
  if (W === 1) return t;
  const shape = [...t.shape];
  shape[1] = W - 1;
  return concat([zeros(shape, { dtype: t.dtype, backend: t.backend }), t], 1);
};

/**
 * Runs `conv` over `cache ‖ chunk` (oldest first) and keeps the chunk's outputs:
 * prefill from a cache and single-token decode are the full-sequence op on a window.
 */
function stepWindow(
  op: string,
  x: Tensor,
  cache: Tensor,
  W: number,
  conv: (window: Tensor, chunkLength: number) => Tensor,
): ConvStepResult {
  const single = x.rank === 2;
  const [B, D] = single ? (x.shape as [number, number]) : [x.shape[0]!, x.shape[2]!];
  checkCache(op, cache, B, W, D, x);
  return tidy(() => {
    const chunk = single ? unsqueeze(x, 1) : x;
    const n = chunk.shape[1]!;
    const cached = Array.from({ length: W - 1 }, (_, i) => narrow(cache, 1, W - 2 - i, 1));
    const window = W === 1 ? chunk : concat([...cached, chunk], 1);
    const yWindow = conv(window, n);
    const yChunk = narrow(yWindow, 1, W - 1, n);
    const y = single ? reshape(yChunk, [B, D]) : yChunk;
    const total = W - 1 + n;
    const newest = Array.from({ length: W - 1 }, (_, j) => narrow(window, 1, total - 1 - j, 1));
    const next = W === 1 ? zeros([B, 0, D], { dtype: x.dtype, backend: x.backend }) : concat(newest, 1);
    return { y, cache: next };
  });
}

const checkStepX = (op: string, x: Tensor): void => {
  if (x.rank !== 2 && x.rank !== 3)
    throw new TensorError(op, `x must be [B, D] or [B, n, D], got ${fmtShape(x.shape)}`);
};

/**
 * One decode step (x `[B, D]`) or a prefill chunk (x `[B, n, D]`) of {@link shortConv}
 * continuing from `cache [B, W-1, D]` (`cache[:, j] = x[t-1-j]`; zeros at a sequence start).
 */
export function shortConvStep(
  x: Tensor,
  weight: Tensor,
  cache: Tensor,
  options: ShortConvStepOptions = {},
): ConvStepResult {
  const op = 'shortConvStep';
  checkStepX(op, x);
  const W = tidy(() => checkShortConvArgs(op, x.rank === 2 ? unsqueeze(x, 1) : x, weight, options));
  return stepWindow(op, x, cache, W, (window) => shortConv(window, weight, options));
}

/** One decode step or prefill chunk of {@link dynamicConvHeadwise}: taps `[B, H, W]` (or `[B, n, H, W]`). */
export function dynamicConvHeadwiseStep(
  x: Tensor,
  taps: Tensor,
  cache: Tensor,
  options: DynamicConvStepOptions = {},
): ConvStepResult {
  const op = 'dynamicConvHeadwiseStep';
  checkStepX(op, x);
  const single = x.rank === 2;
  return tidy(() => {
    const chunkTaps = asChunk(op, 'taps', taps, single, 4);
    const { W } = checkHeadwiseArgs(op, single ? unsqueeze(x, 1) : x, chunkTaps, options);
    const r = stepWindow(op, x, cache, W, (window) =>
      dynamicConvHeadwise(window, padFront(chunkTaps, W), options),
    );
    return r;
  });
}

/** One decode step or prefill chunk of {@link dynamicConvLowRank}: z `[B, R]` (or `[B, n, R]`). */
export function dynamicConvLowRankStep(
  x: Tensor,
  z: Tensor,
  u: Tensor,
  cache: Tensor,
  options: DynamicConvStepOptions = {},
): ConvStepResult {
  const op = 'dynamicConvLowRankStep';
  checkStepX(op, x);
  const single = x.rank === 2;
  return tidy(() => {
    const chunkZ = asChunk(op, 'z', z, single, 3);
    const { W } = checkLowRankArgs(op, single ? unsqueeze(x, 1) : x, chunkZ, u, options);
    return stepWindow(op, x, cache, W, (window) =>
      dynamicConvLowRank(window, padFront(chunkZ, W), u, options),
    );
  });
}
