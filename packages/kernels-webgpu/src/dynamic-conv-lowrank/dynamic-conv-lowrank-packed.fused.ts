import { isGradEnabled, record, type Tensor, zeros } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { convTuning, raw } from '../conv-core/conv-launch.js';
import {
  lowRankParams,
  lowRankStreamsBackward,
  lowRankStreamsForward,
} from './dynamic-conv-lowrank.fused.js';
import {
  type LowRankDims,
  launchSumPartialsStreams,
  launchZeroColumns,
  type PackedStreamsInputs,
} from './dynamic-conv-lowrank.launch.js';
import { lowRankPartialRows } from './dynamic-conv-lowrank.wgsl.js';
import type { PackedLowRankOptions, PackedLowRankStream } from './dynamic-conv-lowrank-packed.ref.js';
import { streamOptions } from './dynamic-conv-lowrank-packed.ref.js';
import { MAX_PACKED_STREAMS, type PackedLayout, packedAccess, uncoveredColumns } from './packed-layout.js';

/**
 * Most streams one dispatch covers: `convTuning.lowRankStreamsPerDispatch`,
 * at most MAX_PACKED_STREAMS, and what the device's storage bindings allow:
 * the backward token loop, the widest kernel, binds dy, U (and S) per
 * stream and x, z, dx, the partials (and docStart) once.
 */
export function streamsPerDispatch(rt: KernelRuntime, o: { static: boolean; docs: boolean }): number {
  const limit = rt.device.limits.maxStorageBuffersPerShaderStage;
  const fit = Math.floor((limit - 4 - (o.docs ? 1 : 0)) / (2 + (o.static ? 1 : 0)));
  return Math.max(1, Math.min(convTuning.lowRankStreamsPerDispatch, MAX_PACKED_STREAMS, fit));
}

/**
 * Streams that share dispatches, as index lists in stream order: streams of
 * one kernel shape (D, R, W, static, residual), at most `max` per group.
 */
export function groupStreams(streams: readonly PackedLowRankStream[], max: number): number[][] {
  const open = new Map<string, number[]>();
  const groups: number[][] = [];
  for (const [i, s] of streams.entries()) {
    const key = `${s.channels}|${s.u.shape[0]}|${s.u.shape[1]}|${s.static ? 1 : 0}|${s.residual ? 1 : 0}`;
    let g = open.get(key);
    if (!g || g.length >= max) {
      g = [];
      open.set(key, g);
      groups.push(g);
    }
    g.push(i);
  }
  return groups;
}

/** Indices of a group's tensors in the saved list. */
interface SavedAt {
  readonly u: readonly number[];
  readonly s: readonly number[] | null;
  readonly ut: number | null;
}

/**
 * The fused WebGPU packed low-rank convolution: streams of one shape share
 * one dispatch per kernel (forward; backward token loop, dz, dz sum, dU/dS
 * sum), their x and z read in place from the packed tensor; one autograd
 * record whose backward writes every stream's dx and dz straight into one
 * packed gradient `[B, T, P]` (the columns no stream covers zeroed by a
 * kernel of their own), plus dU (and dS) per stream. Each stream's
 * threads do what the single-stream op's do, in the same order, so the
 * results are bitwise those of the single-stream op on views.
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
  const params = streams.flatMap((s) => [s.u, ...(s.static ? [s.static] : [])]);
  const inputs = [packed, ...params];
  const training = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const saved: Tensor[] = [pc, ...(dc ? [dc] : [])];
  const keep = (t: Tensor): number => saved.push(t) - 1;
  const hasStatic = streams.some((s) => s.static);
  const max = streamsPerDispatch(rt, { static: hasStatic, docs: dc !== null });
  const plans = groupStreams(streams, max).map((idx) => {
    const first = streams[idx[0]!]!;
    const D = first.channels;
    const R = first.u.shape[0]!;
    const W = first.u.shape[1]! / D;
    const layouts: PackedLayout[] = idx.map((i) => ({
      stride: P,
      xOffset: streams[i]!.xOffset,
      zOffset: streams[i]!.zOffset,
    }));
    const p = lowRankParams(rt, packed.dtype, { R, W }, streamOptions(first, options), {
      access: packedAccess(...layouts),
      streams: idx.length,
    });
    const dims: LowRankDims = { B, T, D, W };
    const us = idx.map((i) => raw(streams[i]!.u));
    const ss = first.static ? idx.map((i) => raw(streams[i]!.static!)) : null;
    const group: PackedStreamsInputs = {
      packed: pc,
      streams: idx.map((_, k) => ({ u: us[k]!, s: ss ? ss[k]! : null, layout: layouts[k]! })),
      docStart: dc,
    };
    const { ys, ut } = lowRankStreamsForward(rt, p, group, dims, training);
    const at: SavedAt = { u: us.map(keep), s: ss ? ss.map(keep) : null, ut: ut ? keep(ut) : null };
    return { idx, p, dims, layouts, ys, at };
  });
  const ys: Tensor[] = new Array(streams.length);
  for (const pl of plans) for (const [k, i] of pl.idx.entries()) ys[i] = pl.ys[k]!;
  const gaps = uncoveredColumns(
    P,
    streams.flatMap((s) => [
      [s.xOffset, s.xOffset + s.channels] as const,
      [s.zOffset, s.zOffset + s.u.shape[0]!] as const,
    ]),
  );
  record('dynamicConvLowRankPacked', inputs, ys, saved, (gys, kept) => {
    const place = { backend: packed.backend, dtype: packed.dtype };
    // Every covered column is written exactly once below; only the others are zeroed
    // (not the whole gradient first: at the model's padded width that fill was ~9 % of the op).
    const grad = output(packed.backend, [B, T, P], packed.dtype);
    launchZeroColumns(rt, grad, B * T, P, gaps);
    const paramGrads: Tensor[][] = new Array(streams.length);
    for (const pl of plans) {
      const { D, W } = pl.dims;
      const R = pl.p.R;
      const g = pl.idx.map((i) => {
        const gy = gys[i];
        return gy ? raw(gy) : zeros([B, T, D], place);
      });
      const group: PackedStreamsInputs = {
        packed: kept[0]!,
        streams: pl.idx.map((_, k) => ({
          u: kept[pl.at.u[k]!]!,
          s: pl.at.s ? kept[pl.at.s[k]!]! : null,
          layout: pl.layouts[k]!,
        })),
        docStart: dc ? kept[1]! : null,
      };
      const ut = pl.at.ut === null ? null : kept[pl.at.ut]!;
      const { part, numChunks, zPart, slices } = lowRankStreamsBackward(
        rt,
        pl.p,
        g,
        group,
        ut,
        pl.dims,
        grad,
      );
      launchSumPartialsStreams(rt, zPart, slices, B * T * R, {
        kind: 'packed',
        grad,
        cols: R,
        layouts: pl.layouts,
      });
      zPart.dispose();
      // dU and dS each in a buffer of its own (not views into one sum): the fused
      // WebGPU AdamW takes whole buffers only, views fall back to ~14 dispatches.
      const du = pl.idx.map(() => output(packed.backend, [R, W * D], packed.dtype));
      const dS = pl.p.static ? pl.idx.map(() => output(packed.backend, [W, D], packed.dtype)) : null;
      const N = lowRankPartialRows(pl.p) * D;
      launchSumPartialsStreams(
        rt,
        part,
        numChunks,
        N,
        dS
          ? { kind: 'split', outs: du.map((t, k) => [t, dS[k]!] as const), split: R * W * D }
          : { kind: 'whole', outs: du },
      );
      part.dispose();
      for (const [k, i] of pl.idx.entries()) paramGrads[i] = [du[k]!, ...(dS ? [dS[k]!] : [])];
    }
    return [grad, ...paramGrads.flat()];
  });
  for (const t of saved) t.dispose();
  return ys;
}
