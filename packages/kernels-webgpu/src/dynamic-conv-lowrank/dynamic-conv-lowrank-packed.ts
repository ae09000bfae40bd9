import { fmtShape, type Tensor, TensorError } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import { MAX_RANK } from '../common/validate.js';
import { checkLowRankArgs, dynamicConvLowRank } from './dynamic-conv-lowrank.js';
import { dynamicConvLowRankPackedFused } from './dynamic-conv-lowrank-packed.fused.js';
import {
  dynamicConvLowRankPackedComposed,
  type PackedLowRankOptions,
  type PackedLowRankStream,
  streamOptions,
  streamViews,
} from './dynamic-conv-lowrank-packed.ref.js';

const OP = 'dynamicConvLowRankPacked';

/** Throws unless every stream's x and z are column ranges inside `[0, P)` that no other range overlaps. */
function checkColumns(packed: Tensor, streams: readonly PackedLowRankStream[]): void {
  const P = packed.shape[2]!;
  const ranges: { what: string; start: number; end: number }[] = [];
  for (const [i, s] of streams.entries()) {
    if (s.u.rank !== 2)
      throw new TensorError(OP, `stream ${i}: u must be [R, W*D], got ${fmtShape(s.u.shape)}`);
    const R = s.u.shape[0]!;
    if (R < 1 || R > MAX_RANK)
      throw new TensorError(
        OP,
        `stream ${i}: rank R must be in 1..${MAX_RANK}, got R=${R} from u ${fmtShape(s.u.shape)}`,
      );
    for (const [what, start, width] of [
      ['x', s.xOffset, s.channels],
      ['z', s.zOffset, R],
    ] as const) {
      if (!Number.isInteger(start) || !Number.isInteger(width) || start < 0 || width < 1 || start + width > P)
        throw new TensorError(
          OP,
          `stream ${i}: ${what} columns [${start}, ${start + width}) are not inside the packed ${fmtShape(packed.shape)}`,
        );
      ranges.push({ what: `stream ${i} ${what}`, start, end: start + width });
    }
  }
  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i]!.start < ranges[i - 1]!.end)
      throw new TensorError(
        OP,
        `${ranges[i]!.what} columns [${ranges[i]!.start}, ${ranges[i]!.end}) overlap ${ranges[i - 1]!.what} [${ranges[i - 1]!.start}, ${ranges[i - 1]!.end})`,
      );
}

/** Validates the arguments of the packed op (each stream as the single-stream op would). */
function checkPackedArgs(
  packed: Tensor,
  streams: readonly PackedLowRankStream[],
  o: PackedLowRankOptions,
): void {
  packed.assertAlive(OP);
  if (packed.rank !== 3) throw new TensorError(OP, `packed must be [B, T, P], got ${fmtShape(packed.shape)}`);
  if (streams.length === 0) throw new TensorError(OP, 'needs at least one stream');
  checkColumns(packed, streams);
  const base = packed.detach();
  for (const s of streams) {
    const { x, z } = streamViews(base, s);
    try {
      checkLowRankArgs(OP, x, z, s.u, streamOptions(s, o));
    } finally {
      x.dispose();
      z.dispose();
    }
  }
  base.dispose();
}

/** Whether {@link dynamicConvLowRankPacked} runs fused kernels on `packed` (else it is the per-stream op on views). */
export function dynamicConvLowRankPackedSupported(packed: Tensor): boolean {
  const rt = runtimeOf(packed.backend);
  return rt !== null && supportsDType(rt, packed.dtype);
}

/**
 * Several low-rank dynamic convolutions whose inputs x and z are column
 * ranges of one packed tensor (e.g. the q|k|v|z_q|z_k|z_v output of one
 * fused matmul). Stream i is `dynamicConvLowRank(packed[..., x_i], packed[..., z_i], u_i, …)`;
 * on WebGPU the kernels read x and z in place and the backward writes dx and
 * dz straight into one packed gradient (no strided copies either way), and
 * streams of one shape (D, R, W, static, residual) share each kernel's
 * dispatch (5 dispatches per group: forward; token backward, dz, dz sum,
 * dU/dS sum), with results bitwise those of the per-stream op.
 * Columns no stream covers get a zero gradient (on WebGPU one more dispatch
 * per uncovered range zeros just those). Differentiable on every backend.
 *
 * @param packed `[B, T, P]`
 * @param streams column ranges (disjoint, inside P) and parameters: u `[R, W*D]`, static `[W, D]`
 * @returns one `[B, T, D_i]` per stream
 */
export function dynamicConvLowRankPacked(
  packed: Tensor,
  streams: readonly PackedLowRankStream[],
  options: PackedLowRankOptions = {},
): Tensor[] {
  checkPackedArgs(packed, streams, options);
  const rt = runtimeOf(packed.backend);
  if (rt && supportsDType(rt, packed.dtype))
    return dynamicConvLowRankPackedFused(rt, packed, streams, options);
  return dynamicConvLowRankPackedComposed(packed, streams, options, dynamicConvLowRank);
}
