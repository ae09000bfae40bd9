import {
  concat,
  contiguous,
  cumsum,
  exp,
  mul,
  narrow,
  permute,
  reshape,
  type Tensor,
  tensor,
  zeros,
} from '@dynconv/tensor';

/**
 * Building blocks of the chunked linear-recurrence algorithms (SSD, gated
 * delta rule, GLA), made of plain differentiable tensor ops so they run and
 * differentiate on every backend.
 *
 * Layout: the public ops take `[B, T, H, ...]` (token-major, like fla); the
 * chunked algorithms work on `[B, H, nC, Q, ...]` (one contiguous block of Q
 * tokens per head and chunk). T is zero-padded up to nC·Q: a padded step has
 * zero input and zero log-decay, so it changes neither the outputs of real
 * steps nor the final state.
 */

/** Number of chunks of size `Q` covering `T` tokens. */
export const chunkCount = (T: number, Q: number): number => Math.max(1, Math.ceil(T / Q));

/** `[B, T, H, ...rest]` → `[B, H, nC, Q, ...rest]`, zero-padded at the end of T. */
export function toChunks(x: Tensor, Q: number): Tensor {
  const [B, T, H] = x.shape as [number, number, number];
  const rest = x.shape.slice(3);
  const nC = chunkCount(T, Q);
  const pad = nC * Q - T;
  const padded =
    pad === 0 ? x : concat([x, zeros([B, pad, H, ...rest], { dtype: x.dtype, backend: x.backend })], 1);
  const split = reshape(padded, [B, nC, Q, H, ...rest]);
  const order = [0, 3, 1, 2, ...rest.map((_, i) => 4 + i)];
  return contiguous(permute(split, order));
}

/** Inverse of {@link toChunks}: `[B, H, nC, Q, ...rest]` → `[B, T, H, ...rest]`. */
export function fromChunks(y: Tensor, T: number): Tensor {
  const [B, H, nC, Q] = y.shape as [number, number, number, number];
  const rest = y.shape.slice(4);
  const order = [0, 2, 3, 1, ...rest.map((_, i) => 4 + i)];
  const tokens = reshape(permute(y, order), [B, nC * Q, H, ...rest]);
  return nC * Q === T ? tokens : narrow(tokens, 1, 0, T);
}

/**
 * A constant `[n, n]` lower-triangular 0/1 mask on `like`'s backend and dtype:
 * `mask[i, j] = 1` for `j <= i` (`strict`: `j < i`).
 */
export function lowerMask(n: number, strict: boolean, like: Tensor): Tensor {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) if (j < i || !strict) data[i * n + j] = 1;
  return tensor(data, { shape: [n, n], dtype: like.dtype, backend: like.backend });
}

/**
 * Segment sums along the last axis: `[..., n]` → `[..., n, n]` with
 * `out[i, j] = Σ_{j<k≤i} x[k]` for `i ≥ j` and 0 above the diagonal.
 * Summing the increments directly (Mamba's "segsum") avoids the cancellation
 * of `cumsum[i] − cumsum[j]` when the cumulative sums are large.
 */
export function segmentSums(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1]!;
  const lead = x.shape.slice(0, -1);
  // rows[k, j] = x[k] where k > j: cumsum over k gives Σ_{j<k≤i} x[k] at row i.
  const rows = mul(reshape(x, [...lead, n, 1]), lowerMask(n, true, x));
  return cumsum(rows, -2);
}

/**
 * Decay matrix from per-step log-decays `[..., n]`:
 * `[..., n, n]` with `L[i, j] = exp(Σ_{j<k≤i} logDecay[k])` for `i ≥ j`, else 0.
 * The exponent is masked before `exp`, so nothing overflows above the diagonal.
 */
export function decayMatrix(logDecay: Tensor): Tensor {
  const n = logDecay.shape[logDecay.rank - 1]!;
  const mask = lowerMask(n, false, logDecay);
  return mul(exp(mul(segmentSums(logDecay), mask)), mask);
}

/** Prepends one zero entry on `axis` (the "nothing before the first chunk" slot of the chunk scans). */
export function prependZero(x: Tensor, axis: number): Tensor {
  const shape = [...x.shape];
  shape[axis] = 1;
  return concat([zeros(shape, { dtype: x.dtype, backend: x.backend }), x], axis);
}

/** Entry `i` of `axis`, with that axis removed. */
export function pick(x: Tensor, axis: number, i: number): Tensor {
  const shape = x.shape.filter((_, a) => a !== (axis < 0 ? axis + x.rank : axis));
  return reshape(narrow(x, axis, i, 1), shape);
}
