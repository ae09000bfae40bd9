import {
  type Backend,
  concat,
  type DType,
  reshape,
  type Tensor,
  tidy,
  usesReducedPrecision,
} from '@dynconv/tensor';
import { layerFusion } from './fused/gpu.js';
import { splitHeadsRoPE } from './fused/rope-heads.js';
import type { InitOptions } from './init.js';
import * as K from './kernels/index.js';
import { fusedLinear, fusedLinearPacked, initLinear, type Linear, linearShape } from './linear.js';
import { initRMSNorm, type RMSNorm, rmsNorm } from './norm.js';
import { applyRoPE, initRoPE, type RoPE, ropeTables } from './rope.js';
import {
  canPackLowRank,
  convGenerator,
  initShortConv,
  initShortConvCache,
  type ShortConv,
  type ShortConvSpec,
  shortConvsPacked,
} from './short-conv.js';
import { convStream, type SequenceMode, setCache } from './stream.js';

/**
 * Causal multi-head self-attention with grouped-query heads (`nKvHeads`
 * divides `nHeads`), optional QK-norm (RMSNorm per head, HF Qwen3 style, applied
 * before RoPE), RoPE (full or partial), and optional short convolutions on the
 * q, k, v and o streams. Dynamic convs on q/k/v read the attention input as
 * generator input, so their generator projections ride in the same matmul
 * as q/k/v (one fused GEMM); a dynamic o-conv reads the o_proj input.
 */
export type Attention = {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly rope: RoPE | null;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm?: RMSNorm;
  k_norm?: RMSNorm;
  q_conv?: ShortConv;
  k_conv?: ShortConv;
  v_conv?: ShortConv;
  o_conv?: ShortConv;
};

export interface AttentionOptions extends InitOptions {
  readonly dModel: number;
  readonly nHeads: number;
  /** Default nHeads (multi-head); 1 is multi-query. */
  readonly nKvHeads?: number;
  /** Default dModel / nHeads. */
  readonly headDim?: number;
  readonly bias?: boolean;
  readonly qkNorm?: boolean;
  readonly normEps?: number;
  /** RoPE settings, or null for none. Default `{}` (full rotary, theta 10000). */
  readonly rope?: { readonly theta?: number; readonly rotaryFraction?: number } | null;
  /** Short convs on the projected streams. */
  readonly convs?: {
    readonly q?: ShortConvSpec;
    readonly k?: ShortConvSpec;
    readonly v?: ShortConvSpec;
    readonly o?: ShortConvSpec;
  };
  /** Init std of q/k/v (default 0.02) and of o_proj (default: same). */
  readonly std?: number;
  readonly outStd?: number;
}

export function initAttention(o: AttentionOptions): Attention {
  const nKvHeads = o.nKvHeads ?? o.nHeads;
  const headDim = o.headDim ?? o.dModel / o.nHeads;
  if (!Number.isInteger(headDim))
    throw new Error(`attention: dModel ${o.dModel} is not divisible by nHeads ${o.nHeads}`);
  if (o.nHeads % nKvHeads !== 0)
    throw new Error(`attention: nKvHeads ${nKvHeads} does not divide nHeads ${o.nHeads}`);
  const dq = o.nHeads * headDim;
  const dkv = nKvHeads * headDim;
  const std = o.std ?? 0.02;
  const lin = (inFeatures: number, outFeatures: number, init: number) =>
    initLinear({ ...o, inFeatures, outFeatures, bias: o.bias ?? false, init });
  const p: Attention = {
    nHeads: o.nHeads,
    nKvHeads,
    headDim,
    rope: o.rope === null ? null : initRoPE({ headDim, ...(o.rope ?? {}) }),
    q_proj: lin(o.dModel, dq, std),
    k_proj: lin(o.dModel, dkv, std),
    v_proj: lin(o.dModel, dkv, std),
    o_proj: lin(dq, o.dModel, o.outStd ?? std),
  };
  if (o.qkNorm) {
    const eps = o.normEps ?? 1e-6;
    p.q_norm = initRMSNorm({ ...o, dim: headDim, eps });
    p.k_norm = initRMSNorm({ ...o, dim: headDim, eps });
  }
  const c = o.convs ?? {};
  if (c.q) p.q_conv = initShortConv(c.q, { ...o, channels: dq, generatorDim: o.dModel });
  if (c.k) p.k_conv = initShortConv(c.k, { ...o, channels: dkv, generatorDim: o.dModel });
  if (c.v) p.v_conv = initShortConv(c.v, { ...o, channels: dkv, generatorDim: o.dModel });
  if (c.o) p.o_conv = initShortConv(c.o, { ...o, channels: o.dModel, generatorDim: dq });
  return p;
}

export interface AttentionApplyOptions {
  /** Extra linear layers reading the same input as q/k/v, fused into the QKV matmul; their outputs come back in `extra`. */
  readonly extra?: readonly Linear[];
}

/** `[B, T, heads·dh] → [B, heads, T, dh]` */
const splitHeads = (x: Tensor, heads: number, dh: number): Tensor => {
  const [b, t] = x.shape as [number, number];
  return reshape(x, [b, t, heads, dh]).permute([0, 2, 1, 3]);
};

type Heads = { q: Tensor; k: Tensor; v: Tensor; extra: Tensor[] };

/**
 * The width multiple of the packed q|k|v|z projection of low-rank DSC: 256
 * when the backend runs matmuls on subgroup matrices (reduced precision),
 * else 1. Why: on the H100 that kernel's dX = dY·W (K = the packed width)
 * took 0.72 ms at K = 2320-2432 (2352 unpadded) against 0.29-0.32 ms at
 * K = 2304 and 2560 (docs/results/perf-h100-session4/README.md); the zero
 * columns cost ~8 % more in the forward and dW matmuls, so f32 runs unpadded.
 */
export const packedWidthMultiple = (backend: Backend): number => (usesReducedPrecision(backend) ? 256 : 1);

/**
 * The q/k/v streams `[B, T, heads·dh]` after their convs, and the extra
 * projections: one fused matmul for q/k/v, the dynamic convs' generators and
 * the extras.
 */
function projectStreams(p: Attention, x: Tensor, mode: SequenceMode, extraLayers: readonly Linear[]) {
  const streams = [p.q_conv, p.k_conv, p.v_conv];
  const gens = streams.map((c) => (c ? convGenerator(c) : null));
  const fused = [
    p.q_proj,
    p.k_proj,
    p.v_proj,
    ...gens.filter((g): g is Linear => g !== null),
    ...extraLayers,
  ];
  // Low-rank DSC on all of q/k/v: the convs read q|k|v|z_q|z_k|z_v in place and
  // hand back one packed gradient (no strided copy per stream either way).
  if (
    mode.kind === 'sequence' &&
    extraLayers.length === 0 &&
    layerFusion.enabled &&
    canPackLowRank(streams, x)
  ) {
    const packed = fusedLinearPacked(fused, x, packedWidthMultiple(x.backend));
    const starts = fused.map((_, i) => fused.slice(0, i).reduce((n, l) => n + linearShape(l).outFeatures, 0));
    const columns = [0, 1, 2].map((i) => ({ x: starts[i]!, z: starts[3 + i]! }));
    const [q0, k0, v0] = shortConvsPacked(
      streams,
      packed,
      columns,
      mode.docStart ? { docStart: mode.docStart } : {},
    );
    return { q0: q0!, k0: k0!, v0: v0!, extra: [] as Tensor[] };
  }
  const outs = fusedLinear(fused, x);
  let next = 3;
  const z = gens.map((g) => (g ? outs[next++] : undefined));
  const extra = outs.slice(next);
  const names = ['q_conv', 'k_conv', 'v_conv'];
  const [q0, k0, v0] = [0, 1, 2].map((i) => convStream(names[i]!, streams[i], outs[i]!, z[i], mode));
  return { q0: q0!, k0: k0!, v0: v0!, extra };
}

/**
 * q, k, v `[B, heads, T, dh]` (post-conv, post-QK-norm, post-RoPE) and the
 * extra projections, with composed ops: the reference of `projectHeadsFused`.
 */
function projectHeads(
  p: Attention,
  x: Tensor,
  mode: SequenceMode,
  offset: number,
  extraLayers: readonly Linear[],
): Heads {
  const t = x.shape[1]!;
  const { q0, k0, v0, extra } = projectStreams(p, x, mode, extraLayers);
  let q = splitHeads(q0, p.nHeads, p.headDim);
  let k = splitHeads(k0, p.nKvHeads, p.headDim);
  const v = splitHeads(v0, p.nKvHeads, p.headDim);
  if (p.q_norm) q = rmsNorm(p.q_norm, q);
  if (p.k_norm) k = rmsNorm(p.k_norm, k);
  if (p.rope) {
    const tables = ropeTables(p.rope, offset, t, { backend: x.backend, dtype: q.dtype });
    q = applyRoPE(p.rope, q, offset, tables);
    k = applyRoPE(p.rope, k, offset, tables);
  }
  return { q, k, v, extra };
}

/**
 * `projectHeads` (no QK-norm) with the head split and RoPE in `splitHeadsRoPE`:
 * without q/k/v convs and extra projections, one kernel reads the packed
 * q/k/v projection and its backward writes the packed gradient; otherwise
 * one kernel per stream.
 */
function projectHeadsFused(
  p: Attention,
  x: Tensor,
  mode: SequenceMode,
  offset: number,
  extraLayers: readonly Linear[],
): Heads {
  const t = x.shape[1]!;
  const rotate = p.rope !== null;
  const tables = p.rope ? ropeTables(p.rope, offset, t, { backend: x.backend, dtype: x.dtype }) : null;
  const heads = (y: Tensor, segments: { heads: number; rotate: boolean }[]) =>
    splitHeadsRoPE(y, segments, p.headDim, p.rope, tables);
  if (!p.q_conv && !p.k_conv && !p.v_conv && extraLayers.length === 0) {
    const [q, k, v] = heads(fusedLinearPacked([p.q_proj, p.k_proj, p.v_proj], x), [
      { heads: p.nHeads, rotate },
      { heads: p.nKvHeads, rotate },
      { heads: p.nKvHeads, rotate: false },
    ]);
    return { q: q!, k: k!, v: v!, extra: [] };
  }
  const { q0, k0, v0, extra } = projectStreams(p, x, mode, extraLayers);
  const [q] = heads(q0, [{ heads: p.nHeads, rotate }]);
  const [k] = heads(k0, [{ heads: p.nKvHeads, rotate }]);
  const [v] = heads(v0, [{ heads: p.nKvHeads, rotate: false }]);
  return { q: q!, k: k!, v: v!, extra };
}

/**
 * The attention sublayer in either mode. `x [B, T, d] → y [B, T, d]`.
 * Step mode reads and writes the caches `k`, `v` `[B, Hkv, P, dh]` (post-conv,
 * post-RoPE) and `{q,k,v,o}_conv` `[B, W−1, D]`.
 */
export function attentionSublayer(
  p: Attention,
  x: Tensor,
  mode: SequenceMode,
  o: AttentionApplyOptions = {},
): { y: Tensor; extra: Tensor[] } {
  return tidy(() => {
    const [b, t] = x.shape as [number, number];
    const offset = mode.kind === 'step' ? mode.position : 0;
    let { q, k, v, extra } =
      layerFusion.enabled && !p.q_norm && !p.k_norm
        ? projectHeadsFused(p, x, mode, offset, o.extra ?? [])
        : projectHeads(p, x, mode, offset, o.extra ?? []);
    if (mode.kind === 'step') {
      const pk = mode.cache.get('k');
      const pv = mode.cache.get('v');
      k = pk ? concat([pk, k], 2) : k.contiguous();
      v = pv ? concat([pv, v], 2) : v.contiguous();
      setCache(mode, 'k', k);
      setCache(mode, 'v', v);
    }
    const attn = K.causalAttention(q, k, v, {
      scale: 1 / Math.sqrt(p.headDim),
      kvOffset: offset,
      ...(mode.kind === 'sequence' && mode.docStart ? { docStart: mode.docStart } : {}),
    });
    const merged = reshape(attn.permute([0, 2, 1, 3]), [b, t, p.nHeads * p.headDim]);
    const oGen = p.o_conv ? convGenerator(p.o_conv) : null;
    const [y0, zo] = fusedLinear(oGen ? [p.o_proj, oGen] : [p.o_proj], merged);
    const y = convStream('o_conv', p.o_conv, y0!, zo, mode);
    return { y, extra };
  });
}

/** Sequence form: `x [B, T, d] → [B, T, d]`, with optional packed-document starts (i32 `[B, T]`). */
export const attention = (p: Attention, x: Tensor, o: { readonly docStart?: Tensor } = {}): Tensor =>
  attentionSublayer(p, x, { kind: 'sequence', ...o }).y;

/** Cache names and shapes for `batch` sequences holding `length` tokens. */
export function attentionCacheShapes(p: Attention, batch: number, length: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {
    k: [batch, p.nKvHeads, length, p.headDim],
    v: [batch, p.nKvHeads, length, p.headDim],
  };
  for (const [name, c] of [
    ['q_conv', p.q_conv],
    ['k_conv', p.k_conv],
    ['v_conv', p.v_conv],
    ['o_conv', p.o_conv],
  ] as const)
    if (c && c.width > 1) shapes[name] = [batch, c.width - 1, convWidthOf(p, name)];
  return shapes;
}

const convWidthOf = (p: Attention, name: 'q_conv' | 'k_conv' | 'v_conv' | 'o_conv'): number =>
  name === 'q_conv'
    ? p.nHeads * p.headDim
    : name === 'o_conv'
      ? p.o_proj.weight.shape[0]!
      : p.nKvHeads * p.headDim;

/**
 * The empty decode cache: zeroed conv caches. The KV cache starts absent and
 * grows along T with each step (up to the model's `maxLength`).
 */
export function initAttentionCache(
  p: Attention,
  batch: number,
  placement: { backend?: Backend; dtype?: DType } = {},
): Map<string, Tensor> {
  const cache = new Map<string, Tensor>();
  for (const [name, c] of [
    ['q_conv', p.q_conv],
    ['k_conv', p.k_conv],
    ['v_conv', p.v_conv],
    ['o_conv', p.o_conv],
  ] as const) {
    const t = c ? initShortConvCache(c, batch, placement) : null;
    if (t) cache.set(name, t);
  }
  return cache;
}
