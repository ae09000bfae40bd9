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
