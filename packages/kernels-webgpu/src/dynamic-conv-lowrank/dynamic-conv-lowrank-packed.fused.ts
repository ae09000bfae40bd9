import { isGradEnabled, record, type Tensor, zeros } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { raw } from '../conv-core/conv-launch.js';
import { lowRankParams, lowRankStreamBackward, lowRankStreamForward } from './dynamic-conv-lowrank.fused.js';
import type { LowRankDims } from './dynamic-conv-lowrank.launch.js';
import type { PackedLowRankOptions, PackedLowRankStream } from './dynamic-conv-lowrank-packed.ref.js';
import { streamOptions } from './dynamic-conv-lowrank-packed.ref.js';
import { type PackedLayout, packedAccess } from './packed-layout.js';

/** Indices of a stream's tensors in the saved list. */
interface SavedAt {
  readonly u: number;
  readonly s: number | null;
  readonly ut: number | null;
}

/**
 * The fused WebGPU packed low-rank convolution: per stream the kernels of
 * the single-stream op (dynamic-conv-lowrank.fused.ts) compiled for the
 * packed layout, so x and z are read in place from the packed tensor; one
 * autograd record whose backward writes every stream's dx and dz straight
 * into one packed gradient `[B, T, P]` (zero-filled first only where the
 * streams leave columns uncovered), plus dU (and dS) per stream.
 */
export function dynamicConvLowRankPackedFused(
  rt: KernelRuntime,
  packed: Tensor,
  streams: readonly PackedLowRankStream[],
  options: PackedLowRankOptions,
): Tensor[] {
  const [B, T, P] = packed.shape as [number, number, number];
  const pc = raw(packed);
  const dc = options.docStart ? raw(options.docStart) : null;
  const docs = dc !== null;
  const params = streams.flatMap((s) => [s.u, ...(s.static ? [s.static] : [])]);
  const inputs = [packed, ...params];
  const training = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const saved: Tensor[] = [pc, ...(dc ? [dc] : [])];
  const keep = (t: Tensor | null): number | null => (t ? saved.push(t) - 1 : null);
  const plans = streams.map((s) => {
    const D = s.channels;
    const R = s.u.shape[0]!;
    const W = s.u.shape[1]! / D;
    const layout: PackedLayout = { stride: P, xOffset: s.xOffset, zOffset: s.zOffset };
    const p = lowRankParams(rt, packed.dtype, { R, W }, streamOptions(s, options), packedAccess(layout));
    const dims: LowRankDims = { B, T, D, W };
    const uc = raw(s.u);
    const sc = s.static ? raw(s.static) : null;
    const { y, ut } = lowRankStreamForward(
      rt,
      p,
      { x: pc, z: pc, u: uc, s: sc, docStart: dc, layout },
      dims,
      training,
    );
    const at: SavedAt = { u: keep(uc)!, s: keep(sc), ut: keep(ut) };
    return { p, dims, layout, y, at };
  });
  const covered = streams.reduce((n, s) => n + s.channels + s.u.shape[0]!, 0) === P;
  record('dynamicConvLowRankPacked', inputs, [...plans.map((pl) => pl.y)], saved, (gys, kept) => {
    const place = { backend: packed.backend, dtype: packed.dtype };
    // Every covered column is written exactly once below; the others get zero.
    const grad = covered ? output(packed.backend, [B, T, P], packed.dtype) : zeros([B, T, P], place);
    const paramGrads = plans.flatMap((pl, i) => {
      const gy = gys[i];
      const g = gy ? raw(gy) : zeros([B, T, pl.dims.D], place);
      const { du, dS } = lowRankStreamBackward(
        rt,
        pl.p,
        g,
        {
          x: kept[0]!,
          z: kept[0]!,
          u: kept[pl.at.u]!,
          s: pl.at.s === null ? null : kept[pl.at.s]!,
          docStart: docs ? kept[1]! : null,
          layout: pl.layout,
        },
        pl.at.ut === null ? null : kept[pl.at.ut]!,
        pl.dims,
        grad,
      );
      return [du, ...(dS ? [dS] : [])];
    });
    return [grad, ...paramGrads];
  });
  for (const t of saved) t.dispose();
  return plans.map((pl) => pl.y);
}
