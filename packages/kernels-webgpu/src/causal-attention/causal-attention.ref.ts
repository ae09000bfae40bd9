import {
  arange,
  ge,
  le,
  matmul,
  mul,
  reshape,
  softmax,
  type Tensor,
  tidy,
  transpose,
  unsqueeze,
  where,
} from '@dynconv/tensor';

export interface CausalAttentionOptions {
  /** Multiplies q·k before the softmax. Default `1 / sqrt(dh)`. */
  scale?: number;
  /**
   * i32 `[B, Tq]`: for each query, the key position where its document starts;
   * it attends to keys `docStart ..= its own position` only.
   */
  docStart?: Tensor;
  /**
   * Key position of the first query (decode / chunked prefill against a KV cache):
   * query i sits at key position `kvOffset + i`. Default `Tk - Tq`.
   */
  kvOffset?: number;
}

/** A large negative logit for masked keys: finite so no backend meets inf - inf. */
const maskedLogit = (dtype: Tensor['dtype']): number => (dtype === 'f16' ? -65504 : -1e30);

/**
 * 1 where query i (key position `kvOffset + i`) may see key j, else 0: i32
 * `[Tq, Tk]`, or `[B, Tq, Tk]` with a docStart.
 */
export function attentionMask(
  Tq: number,
  Tk: number,
  kvOffset: number,
  docStart: Tensor | undefined,
  backend: Tensor['backend'],
): Tensor {
  const keyPos = arange(0, Tk, 1, { dtype: 'i32', backend });
  const queryPos = reshape(arange(kvOffset, kvOffset + Tq, 1, { dtype: 'i32', backend }), [Tq, 1]);
  const causal = le(keyPos, queryPos);
  if (!docStart) return causal;
  const [B] = docStart.shape as [number];
  const inDocument = ge(keyPos, reshape(docStart, [B, Tq, 1]));
  return mul(causal, inDocument);
}

/**
 * Composed causal attention (the plain reference, any backend): materialises
 * the `[B, H, Tq, Tk]` logits. q `[B, H, Tq, dh]`, k and v `[B, Hkv, Tk, dh]`,
 * H a multiple of Hkv (query head h reads kv head ⌊h / (H/Hkv)⌋). Shapes are
 * validated by the caller.
 */
export function causalAttentionRef(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: CausalAttentionOptions = {},
): Tensor {
  return tidy(() => {
    const [B, H, Tq, dh] = q.shape as [number, number, number, number];
    const [, Hkv, Tk] = k.shape as [number, number, number];
    const group = H / Hkv;
    const kvOffset = options.kvOffset ?? Tk - Tq;
    const scale = options.scale ?? 1 / Math.sqrt(dh);
    const qg = reshape(q, [B, Hkv, group, Tq, dh]);
    const logits = mul(matmul(qg, transpose(unsqueeze(k, 2))), scale);
    const mask = attentionMask(Tq, Tk, kvOffset, options.docStart, q.backend);
    const maskShaped = options.docStart ? reshape(mask, [B, 1, 1, Tq, Tk]) : mask;
    const probs = softmax(where(maskShaped, logits, maskedLogit(q.dtype)), -1);
    return reshape(matmul(probs, unsqueeze(v, 2)), [B, H, Tq, dh]);
  });
}

/**
 * Float64 causal attention forward on host arrays, with the row logsumexp of
 * the scaled, masked logits (what the fused forward saves for the backward).
 * q `[B, H, Tq, dh]`, k and v `[B, Hkv, Tk, dh]`, docStart `[B, Tq]`; returns
 * o `[B, H, Tq, dh]` and lse `[B, H, Tq]`.
 */
export function causalAttentionForward64(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: { B: number; H: number; Hkv: number; Tq: number; Tk: number; dh: number },
  options: { scale: number; kvOffset: number; docStart?: ArrayLike<number> | undefined },
): { o: Float64Array; lse: Float64Array } {
  const { B, H, Hkv, Tq, Tk, dh } = dims;
  const group = H / Hkv;
  const o = new Float64Array(B * H * Tq * dh);
  const lse = new Float64Array(B * H * Tq);
  const logits = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kv = (b * Hkv + Math.floor(h / group)) * Tk;
      for (let i = 0; i < Tq; i++) {
        const qAt = ((b * H + h) * Tq + i) * dh;
        const first = Math.max(0, options.docStart?.[b * Tq + i] ?? 0);
        const last = Math.min(Tk - 1, options.kvOffset + i);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = first; j <= last; j++) {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += q[qAt + d]! * k[(kv + j) * dh + d]!;
          logits[j] = dot * options.scale;
          max = Math.max(max, logits[j]!);
        }
        let sum = 0;
        for (let j = first; j <= last; j++) sum += Math.exp(logits[j]! - max);
        lse[(b * H + h) * Tq + i] = max + Math.log(sum);
        for (let j = first; j <= last; j++) {
          const p = Math.exp(logits[j]! - max) / sum;
          for (let d = 0; d < dh; d++) o[qAt + d]! += p * v[(kv + j) * dh + d]!;
        }
      }
    }
  return { o, lse };
}

/**
 * Float64 dq and Δ = rowsum(dO ∘ O) on host arrays (shapes as
 * `causalAttentionForward64`, dO like q), and per row Σ_j |dS_ij| with
 * dS = P ∘ (dO·vᵀ - Δ): `scale · max|k| · Σ_j |dS_ij|` bounds how far dq moves
 * when dS is perturbed relatively (error bounds of reduced-precision kernels).
 */
export function causalAttentionQueryGrad64(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dO: ArrayLike<number>,
  dims: { B: number; H: number; Hkv: number; Tq: number; Tk: number; dh: number },
  options: { scale: number; kvOffset: number; docStart?: ArrayLike<number> | undefined },
): { dq: Float64Array; delta: Float64Array; dsAbsSum: Float64Array } {
  const { B, H, Hkv, Tq, Tk, dh } = dims;
  const { o, lse } = causalAttentionForward64(q, k, v, dims, options);
  const group = H / Hkv;
  const dq = new Float64Array(B * H * Tq * dh);
  const delta = new Float64Array(B * H * Tq);
  const dsAbsSum = new Float64Array(B * H * Tq);
  const dot = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
    let x = 0;
    for (let d = 0; d < dh; d++) x += a[i + d]! * b[j + d]!;
    return x;
  };
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kv = (b * Hkv + Math.floor(h / group)) * Tk;
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i;
        const at = row * dh;
        const first = Math.max(0, options.docStart?.[b * Tq + i] ?? 0);
        const last = Math.min(Tk - 1, options.kvOffset + i);
        const dl = dot(dO, at, o, at);
        delta[row] = dl;
        for (let j = first; j <= last; j++) {
          const p = Math.exp(dot(q, at, k, (kv + j) * dh) * options.scale - lse[row]!);
          const ds = p * (dot(dO, at, v, (kv + j) * dh) - dl);
          dsAbsSum[row]! += Math.abs(ds);
          for (let d = 0; d < dh; d++) dq[at + d]! += options.scale * ds * k[(kv + j) * dh + d]!;
        }
      }
    }
  return { dq, delta, dsAbsSum };
}
