import { type Backend, type DType, reshape, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { constantParameter, type InitOptions, uniformParameter } from './init.js';
import * as K from './kernels/index.js';
import { initLinear, type Linear, linear } from './linear.js';

/**
 * Causal depthwise short convolutions over a stream `x [B, T, D]`, static or
 * dynamic (DSC: taps generated per token from a generator input `g`).
 * Tap convention: `weight[w]` multiplies `x_{t−w}` (lag order, as the
 * official DSC kernels; Jet-Nemotron checkpoints store the reverse order).
 */

/** `y_t = [x_t +] Σ_w weight[w] ⊙ x_{t−w} [+ bias]`. `weight [W, D]`, `bias [D]`. */
export type StaticShortConv = {
  readonly kind: 'static';
  readonly width: number;
  readonly residual: boolean;
  weight: Tensor;
  bias?: Tensor;
};

/**
 * Low-rank DSC: `z_t = proj(g_t) [R]`, `K_t[w,c] = Σ_r z_t[r] U[r, w·D+c] + static_w[w,c]`,
 * `y_t = [x_t +] Σ_w K_t[w] ⊙ x_{t−w}`. `proj.weight [R, d_g]`, `U [R, W·D]`, `static_w [W, D]`.
 */
export type LowRankShortConv = {
  readonly kind: 'low-rank';
  readonly width: number;
  readonly rank: number;
  readonly residual: boolean;
  proj: Linear;
  U: Tensor;
  static_w?: Tensor;
};

/**
 * Head-wise DSC: one generated filter per group of `headSize` channels,
 * `K_t[h, w] = proj(g_t)[h·W + w]`, plus `static_w [W, D]`.
 * `proj.weight [(D/headSize)·W, d_g]`.
 */
export type HeadwiseShortConv = {
  readonly kind: 'head-wise';
  readonly width: number;
  readonly headSize: number;
  readonly residual: boolean;
  proj: Linear;
  static_w?: Tensor;
};

export type DynamicShortConv = LowRankShortConv | HeadwiseShortConv;
export type ShortConv = StaticShortConv | DynamicShortConv;

/** How to build a short conv (hyperparameters only). */
export type ShortConvSpec =
  | { readonly kind: 'static'; readonly width: number; readonly residual?: boolean; readonly bias?: boolean }
  | {
      readonly kind: 'low-rank';
      readonly width: number;
      readonly rank: number;
      /** Separate static filter `static_w` (default true). */
      readonly staticFilter?: boolean;
      readonly residual?: boolean;
    }
  | {
      readonly kind: 'head-wise';
      readonly width: number;
      readonly headSize: number;
      readonly staticFilter?: boolean;
      readonly residual?: boolean;
    };

export interface ShortConvOptions extends InitOptions {
  /** Channels D of the convolved stream. */
  readonly channels: number;
  /** Width d_g of the generator input (dynamic kinds). */
  readonly generatorDim?: number;
}

/**
 * Official DSC init: static filters U(±1/√W); low-rank `U = 0` and `proj`
 * PyTorch-default (so the dynamic part starts off but learns at once);
 * head-wise `proj = 0`. Residual on by default.
 */
export function initShortConv(spec: ShortConvSpec, o: ShortConvOptions): ShortConv {
  const { width, kind } = spec;
  const d = o.channels;
  if (!(Number.isInteger(width) && width >= 1))
    throw new Error(`short conv: width must be a positive integer, got ${width}`);
  const residual = spec.residual ?? true;
  const bound = 1 / Math.sqrt(width);
  const staticFilter = () => uniformParameter([width, d], bound, o);
  if (kind === 'static') {
    const weight = staticFilter();
    return spec.bias
      ? { kind, width, residual, weight, bias: constantParameter([d], o) }
      : { kind, width, residual, weight };
  }
  const dg = o.generatorDim;
  if (!dg) throw new Error(`short conv '${kind}': generatorDim is required`);
  if (kind === 'low-rank') {
    const proj = initLinear({ ...o, inFeatures: dg, outFeatures: spec.rank, init: 'kaiming-uniform' });
    const U = constantParameter([spec.rank, width * d], o);
    const base = { kind, width, rank: spec.rank, residual, proj, U };
    return spec.staticFilter === false ? base : { ...base, static_w: staticFilter() };
  }
  if (d % spec.headSize !== 0)
    throw new Error(`head-wise short conv: headSize ${spec.headSize} does not divide ${d} channels`);
  const proj = initLinear({ ...o, inFeatures: dg, outFeatures: (d / spec.headSize) * width, init: 'zeros' });
  const base = { kind, width, headSize: spec.headSize, residual, proj };
  return spec.staticFilter === false ? base : { ...base, static_w: staticFilter() };
}

/** The generator projection of a dynamic conv (to fuse into the matmul that reads the same input), else null. */
export const convGenerator = (p: ShortConv): Linear | null => (p.kind === 'static' ? null : p.proj);

/** Width of the generator output `z` (R for low-rank, H·W for head-wise, 0 for static). */
export const generatorWidth = (p: ShortConv): number =>
  p.kind === 'static' ? 0 : p.kind === 'low-rank' ? p.rank : p.proj.weight.shape[0]!;

/** Channels D of the convolved stream. */
export const convChannels = (p: ShortConv): number =>
  p.kind === 'static'
    ? p.weight.shape[1]!
    : p.kind === 'low-rank'
      ? p.U.shape[1]! / p.width
      : (p.proj.weight.shape[0]! / p.width) * p.headSize;

export interface ShortConvApplyOptions {
  /**
   * Generator output `z [B, T, generatorWidth]` already computed (by a fused
   * matmul). Dynamic kinds need `z` or `g`.
   */
  readonly z?: Tensor;
  /** Generator input `g [B, T, d_g]` (used when `z` is absent). */
  readonly g?: Tensor;
  /** i32 `[B, T]` document starts (packed sequences). */
  readonly docStart?: Tensor;
}

/** `[B, T, H·W]` generator output → head-wise taps `[B, T, H, W]` (head-major layout `h·W + w`). */
const headwiseTaps = (z: Tensor, width: number): Tensor => {
  const lead = z.shape.slice(0, -1);
  return reshape(z, [...lead, z.shape[z.rank - 1]! / width, width]);
};

const generatorOutput = (p: DynamicShortConv, o: ShortConvApplyOptions): Tensor => {
  const z = o.z ?? (o.g ? linear(p.proj, o.g) : null);
  if (!z) throw new Error(`short conv '${p.kind}': needs the generator input g or its projection z`);
  return z;
};

/** The sequence form: `x [B, T, D] → [B, T, D]`. */
export function shortConv(p: ShortConv, x: Tensor, o: ShortConvApplyOptions = {}): Tensor {
  return tidy(() => {
    const base = { residual: p.residual, ...(o.docStart ? { docStart: o.docStart } : {}) };
    if (p.kind === 'static')
      return K.shortConv(x, p.weight, { ...base, ...(p.bias ? { bias: p.bias } : {}) });
    const z = generatorOutput(p, o);
    const staticW = p.static_w ? { static: p.static_w } : {};
    if (p.kind === 'low-rank') return K.dynamicConvLowRank(x, z, p.U, { ...base, ...staticW });
    return K.dynamicConvHeadwise(x, headwiseTaps(z, p.width), { ...base, ...staticW });
  });
}

/** Where a low-rank conv's stream x and generator output z start in a packed tensor's last axis. */
export interface PackedColumns {
  readonly x: number;
  readonly z: number;
}

/**
 * Whether `convs` can run as one {@link shortConvsPacked} on `x`'s backend:
 * all present and low-rank, and the fused packed kernels available (WebGPU).
 */
export const canPackLowRank = (
  convs: readonly (ShortConv | undefined)[],
  x: Tensor,
): convs is readonly LowRankShortConv[] =>
  convs.every((c) => c?.kind === 'low-rank') && K.dynamicConvLowRankPackedSupported(x);

/**
 * Low-rank convs (sequence form) whose streams and generator outputs are
 * column ranges of one packed tensor `[B, T, P]` (e.g. the q|k|v|z_q|z_k|z_v
 * output of one fused matmul): conv i reads x at `columns[i].x` (its D
 * channels) and z at `columns[i].z` (its R values). One op: the kernels read
 * the columns in place and the backward hands back one packed gradient, so
 * there is no copy per stream either way. Returns one `[B, T, D_i]` per conv.
 */
export function shortConvsPacked(
  convs: readonly LowRankShortConv[],
  packed: Tensor,
  columns: readonly PackedColumns[],
  o: { readonly docStart?: Tensor } = {},
): Tensor[] {
  const streams = convs.map((p, i) => ({
    xOffset: columns[i]!.x,
    channels: convChannels(p),
    zOffset: columns[i]!.z,
    u: p.U,
    ...(p.static_w ? { static: p.static_w } : {}),
    residual: p.residual,
  }));
  return K.dynamicConvLowRankPacked(packed, streams, o.docStart ? { docStart: o.docStart } : {});
}

/**
 * Decode cache: the last `W−1` inputs, newest first (`cache[:, j] = x_{t−1−j}`),
 * `[B, W−1, D]`, zeros at a sequence start; null when W = 1 (nothing to remember).
 */
export const initShortConvCache = (
  p: ShortConv,
  batch: number,
  placement: { backend?: Backend; dtype?: DType } = {},
): Tensor | null => (p.width > 1 ? zeros([batch, p.width - 1, convChannels(p)], placement) : null);

/**
 * The cached form: continues the convolution over `x [B, n, D]` (n ≥ 1 new
 * tokens; n > 1 is a prefill chunk) after the inputs held in `cache`. Returns
 * `y [B, n, D]` and the new cache; equals the sequence form on the whole stream.
 */
export function shortConvStep(
  p: ShortConv,
  x: Tensor,
  cache: Tensor | null,
  o: Omit<ShortConvApplyOptions, 'docStart'> = {},
): { y: Tensor; cache: Tensor | null } {
  if (!cache) return { y: shortConv(p, x, o), cache: null };
  return tidy(() => {
    const residual = { residual: p.residual };
    if (p.kind === 'static')
      return K.shortConvStep(x, p.weight, cache, { ...residual, ...(p.bias ? { bias: p.bias } : {}) });
    const z = generatorOutput(p, o);
    const staticW = p.static_w ? { static: p.static_w } : {};
    if (p.kind === 'low-rank') return K.dynamicConvLowRankStep(x, z, p.U, cache, { ...residual, ...staticW });
    return K.dynamicConvHeadwiseStep(x, headwiseTaps(z, p.width), cache, { ...residual, ...staticW });
  });
}
