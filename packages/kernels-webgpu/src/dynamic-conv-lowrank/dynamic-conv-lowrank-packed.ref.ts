import { narrow, type Tensor, tidy } from '@dynconv/tensor';
import type { DynamicConvOptions } from '../dynamic-conv-headwise/dynamic-conv-headwise.ref.js';

/** One stream of a packed low-rank convolution: where its x and z sit in the packed tensor, and its parameters. */
export interface PackedLowRankStream {
  /** First column of the stream's x `[B, T, D]` in the packed last axis. */
  readonly xOffset: number;
  /** Channels D of the stream. */
  readonly channels: number;
  /** First column of the stream's z `[B, T, R]` (R = `u.shape[0]`). */
  readonly zOffset: number;
  /** U `[R, W*D]`, tap-major. */
  readonly u: Tensor;
  /** Static filter S `[W, D]` added to the taps. */
  readonly static?: Tensor;
  /** Adds x to y. */
  readonly residual?: boolean;
}

export interface PackedLowRankOptions {
  /** i32 `[B, T]` document starts, shared by all streams. */
  readonly docStart?: Tensor;
}

/** The per-stream options of the single-stream op. */
export const streamOptions = (s: PackedLowRankStream, o: PackedLowRankOptions): DynamicConvOptions => ({
  ...(s.static ? { static: s.static } : {}),
  ...(s.residual ? { residual: true } : {}),
  ...(o.docStart ? { docStart: o.docStart } : {}),
});

/** The stream's x and z as views of the packed tensor. */
export const streamViews = (packed: Tensor, s: PackedLowRankStream): { x: Tensor; z: Tensor } => ({
  x: narrow(packed, 2, s.xOffset, s.channels),
  z: narrow(packed, 2, s.zOffset, s.u.shape[0]!),
});

/**
 * Composed packed low-rank convolution: each stream is `conv(x, z, u)` of the
 * single-stream op on views of the packed tensor, with `conv` the composed
 * reference (`dynamicConvLowRankRef`) or the single-stream op itself (any
 * backend). Shapes are validated by the caller.
 */
export function dynamicConvLowRankPackedComposed(
  packed: Tensor,
  streams: readonly PackedLowRankStream[],
  options: PackedLowRankOptions,
  conv: (x: Tensor, z: Tensor, u: Tensor, o: DynamicConvOptions) => Tensor,
): Tensor[] {
  return tidy(() =>
    streams.map((s) => {
      const { x, z } = streamViews(packed, s);
      return conv(x, z, s.u, streamOptions(s, options));
    }),
  );
}
