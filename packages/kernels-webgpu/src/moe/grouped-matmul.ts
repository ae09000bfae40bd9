import { type Backend, type DType, fmtShape, type Tensor, TensorError } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import { assertSameBackend } from '../common/validate.js';
import { groupedMatmulFused } from './grouped-matmul.fused.js';
import { groupedMatmulHost } from './grouped-matmul.host.js';
import { hostReadable } from './host.js';

const OP = 'groupedMatmul';

export interface GroupedMatmulOptions {
  /**
   * Let the segments end before R (`offsets[E] ≤ R`): rows from `offsets[E]`
   * on belong to no expert — the dropped assignments of a capacity plan —
   * and get zero output and zero input gradient, at no multiply-adds.
   * Without it the host requires `offsets[E] = R`, catching a short plan.
   */
  readonly tail?: boolean;
}

/**
 * Whether `groupedMatmul` runs on `backend` for `dtype`: WebGPU when the
 * device can run kernels on that dtype, or a host-readable backend (CPU).
 */
export function groupedMatmulSupported(backend: Backend, dtype: DType): boolean {
  const rt = runtimeOf(backend);
  if (rt) return supportsDType(rt, dtype);
  return hostReadable(backend) !== null && (dtype === 'f32' || dtype === 'f16');
}

/** Validates the arguments of `groupedMatmul`; returns the sizes. */
export function checkGroupedMatmulArgs(x: Tensor, w: Tensor, offsets: Tensor) {
  assertSameBackend(OP, { x, w, offsets });
  if (x.rank !== 2) throw new TensorError(OP, `x must be [R, K], got ${fmtShape(x.shape)}`);
  const [R, K] = x.shape as [number, number];
  if (w.rank !== 3 || w.shape[1] !== K)
    throw new TensorError(OP, `w must be [E, K, M] with K=${K}, got ${fmtShape(w.shape)}`);
  const [E, , M] = w.shape as [number, number, number];
  if (offsets.dtype !== 'i32' || offsets.rank !== 1 || offsets.shape[0] !== E + 1)
    throw new TensorError(
      OP,
      `offsets must be i32 [E + 1] = [${E + 1}], got ${offsets.dtype}${fmtShape(offsets.shape)}`,
    );
  if ((x.dtype !== 'f32' && x.dtype !== 'f16') || w.dtype !== x.dtype)
    throw new TensorError(
      OP,
      `x and w must share one float dtype (f32 or f16), got ${x.dtype} and ${w.dtype}`,
    );
  if (!groupedMatmulSupported(x.backend, x.dtype))
    throw new TensorError(OP, `no grouped-matmul kernel for ${x.dtype} on ${x.backend.name}`);
  return { R, K, E, M };
}

/**
 * Grouped (per-expert) matmul, differentiable w.r.t. x and w:
 * `y[r] = x[r] · w[e]` for every row r of expert e's segment
 * `[offsets[e], offsets[e + 1])`. Each row is multiplied by its own expert's
 * matrix only, so the work is offsets[E]·K·M multiply-adds whatever the
 * segment sizes (empty segments cost nothing and get a zero weight
 * gradient); rows past `offsets[E]` (only with `tail`) are zero.
 *
 * On WebGPU one kernel launch covers every expert (each workgroup finds its
 * segment from `offsets` on the device, so nothing is read back); on the
 * CPU the host loops over the segments.
 *
 * @param x `[R, K]` rows sorted by expert
 * @param w `[E, K, M]` stacked expert matrices
 * @param offsets i32 `[E + 1]`, rising from 0 to R (to at most R with
 *   `tail`; not checked on the GPU)
 * @returns `[R, M]`
 */
export function groupedMatmul(
  x: Tensor,
  w: Tensor,
  offsets: Tensor,
  options: GroupedMatmulOptions = {},
): Tensor {
  checkGroupedMatmulArgs(x, w, offsets);
  const rt = runtimeOf(x.backend);
  if (rt) return groupedMatmulFused(rt, x, w, offsets);
  return groupedMatmulHost(hostReadable(x.backend)!, x, w, offsets, options.tail ?? false);
}
