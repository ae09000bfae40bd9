import { type Backend, concat, type DType, narrow, type Tensor, tensor, tidy } from '@dynconv/tensor';

/**
 * Rotary position embedding, Hugging Face / GPT-NeoX convention
 * ("rotate half"): the first `rotaryDim` channels of each head are split into
 * halves (x1, x2) and rotated pairwise, `(x1 cos − x2 sin, x2 cos + x1 sin)`;
 * channels past `rotaryDim` pass through (partial rotary). Static config only.
 */
export type RoPE = { readonly headDim: number; readonly rotaryDim: number; readonly theta: number };

export interface RoPEOptions {
  readonly headDim: number;
  /** Fraction of each head that rotates (HF `partial_rotary_factor`). Default 1. */
  readonly rotaryFraction?: number;
  /** Base of the frequencies. Default 10000. */
  readonly theta?: number;
}

/** Resolves the rotary width: `round(headDim · fraction)`, which must be even and positive. */
export function initRoPE(o: RoPEOptions): RoPE {
  const rotaryDim = Math.round(o.headDim * (o.rotaryFraction ?? 1));
  if (rotaryDim < 2 || rotaryDim % 2 !== 0 || rotaryDim > o.headDim)
    throw new Error(
      `RoPE: rotary width ${rotaryDim} (headDim ${o.headDim} × fraction ${o.rotaryFraction ?? 1}) must be even, ≥ 2 and ≤ headDim`,
    );
  return { headDim: o.headDim, rotaryDim, theta: o.theta ?? 10000 };
}

/** Host tables already computed, newest last (a training run asks for the same ones every layer and step). */
const hostTables = new Map<string, { cos: Float64Array; sin: Float64Array }>();
const HOST_TABLES_KEPT = 8;

/** The float64 cos/sin values of {@link ropeTables}, memoized (the trig cost ~1-3 ms per call on a server CPU). */
function hostRopeTables(p: RoPE, offset: number, length: number): { cos: Float64Array; sin: Float64Array } {
  const key = `${p.theta}|${p.rotaryDim}|${offset}|${length}`;
  const hit = hostTables.get(key);
  if (hit) {
    hostTables.delete(key);
    hostTables.set(key, hit);
    return hit;
  }
  const half = p.rotaryDim / 2;
  const cos = new Float64Array(length * half);
  const sin = new Float64Array(length * half);
  for (let i = 0; i < half; i++) {
    const invFreq = p.theta ** (-(2 * i) / p.rotaryDim);
    for (let t = 0; t < length; t++) {
      const angle = (offset + t) * invFreq;
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  hostTables.set(key, { cos, sin });
  if (hostTables.size > HOST_TABLES_KEPT) hostTables.delete(hostTables.keys().next().value!);
  return { cos, sin };
}

/**
 * Cos and sin tables `[length, rotaryDim/2]` for absolute positions
 * `offset .. offset+length-1`, computed on the host in float64 (accurate for
 * large positions; the last few are memoized) and uploaded as new tensors.
 */
export function ropeTables(
  p: RoPE,
  offset: number,
  length: number,
  placement: { backend?: Backend; dtype?: DType } = {},
): { cos: Tensor; sin: Tensor } {
  const { cos, sin } = hostRopeTables(p, offset, length);
  const o = { shape: [length, p.rotaryDim / 2], ...placement };
  return { cos: tensor(cos, o), sin: tensor(sin, o) };
}

/**
 * Rotates `x [B, H, T, headDim]` whose tokens sit at absolute positions
 * `offset .. offset+T-1` (offset > 0 when decoding after a prefix). Pass
 * `tables` (from `ropeTables`) to share one upload between q and k.
 */
export function applyRoPE(p: RoPE, x: Tensor, offset = 0, tables?: { cos: Tensor; sin: Tensor }): Tensor {
  return tidy(() => {
    const t = x.shape[x.rank - 2]!;
    const half = p.rotaryDim / 2;
    const { cos, sin } = tables ?? ropeTables(p, offset, t, { backend: x.backend, dtype: x.dtype });
    const x1 = narrow(x, -1, 0, half);
    const x2 = narrow(x, -1, half, half);
    const parts = [x1.mul(cos).sub(x2.mul(sin)), x2.mul(cos).add(x1.mul(sin))];
    if (p.rotaryDim < p.headDim) parts.push(narrow(x, -1, p.rotaryDim, p.headDim - p.rotaryDim));
    return concat(parts, -1);
  });
}
