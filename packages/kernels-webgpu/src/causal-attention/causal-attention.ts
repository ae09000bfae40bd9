import { fmtShape, type Tensor, TensorError, usesReducedPrecision } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import { assertFloatLike, assertSameBackend } from '../common/validate.js';
import { attentionPlan, causalAttentionFused } from './causal-attention.fused.js';
import { type CausalAttentionOptions, causalAttentionRef } from './causal-attention.ref.js';

export type { CausalAttentionOptions } from './causal-attention.ref.js';

const OP = 'causalAttention';

/** Validates attention arguments; returns the shapes and the resolved kvOffset. */
export function checkAttentionArgs(q: Tensor, k: Tensor, v: Tensor, options: CausalAttentionOptions) {
  assertSameBackend(OP, { q, k, v, docStart: options.docStart });
  assertFloatLike(OP, q, { k, v });
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4)
    throw new TensorError(OP, `q must be [B, H, Tq, dh], k and v [B, Hkv, Tk, dh]; got ${shapes}`);
  const [B, H, Tq, dh] = q.shape as [number, number, number, number];
  const [Bk, Hkv, Tk, dhk] = k.shape as [number, number, number, number];
  if (Bk !== B || dhk !== dh || v.shape.some((d, i) => d !== k.shape[i]))
    throw new TensorError(
      OP,
      `k and v must be [B, Hkv, Tk, dh] = [${B}, Hkv, Tk, ${dh}] alike; got ${shapes}`,
    );
  if (Hkv < 1 || H % Hkv !== 0)
    throw new TensorError(OP, `query heads H=${H} must be a multiple of kv heads Hkv=${Hkv}; got ${shapes}`);
  const kvOffset = options.kvOffset ?? Tk - Tq;
  if (!Number.isInteger(kvOffset) || kvOffset < 0 || kvOffset + Tq > Tk)
    throw new TensorError(
      OP,
      `kvOffset=${kvOffset} must be an integer with 0 <= kvOffset and kvOffset + Tq <= Tk; got ${shapes}`,
    );
  const { docStart } = options;
  if (
    docStart &&
    (docStart.dtype !== 'i32' || docStart.rank !== 2 || docStart.shape[0] !== B || docStart.shape[1] !== Tq)
  )
    throw new TensorError(
      OP,
      `docStart must be i32 [B, Tq] = [${B}, ${Tq}]; got ${docStart.dtype}${fmtShape(docStart.shape)} (${shapes})`,
    );
  return { B, H, Hkv, Tq, Tk, dh, kvOffset };
}

/**
 * Causal (grouped-query) attention, differentiable on every backend:
 * `softmax(scale · q kᵀ + mask) v` where query i sits at key position
 * `kvOffset + i` and sees keys `docStart[b, i] ..= kvOffset + i`.
 *
 * @param q `[B, H, Tq, dh]`
 * @param k `[B, Hkv, Tk, dh]`, H a multiple of Hkv (GQA: query head h uses kv head ⌊h·Hkv/H⌋)
 * @param v `[B, Hkv, Tk, dh]`
 * @returns `[B, H, Tq, dh]`
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: CausalAttentionOptions = {},
): Tensor {
  const shapes = checkAttentionArgs(q, k, v, options);
  const scale = options.scale ?? 1 / Math.sqrt(shapes.dh);
  const rt = runtimeOf(q.backend);
  const dtype = q.dtype === 'f16' ? 'f16' : 'f32';
  const plan =
    rt && supportsDType(rt, q.dtype) && shapes.Tq > 0 && shapes.Tk > 0
      ? attentionPlan(rt, {
          dtype,
          dh: shapes.dh,
          docs: options.docStart !== undefined,
          reducedPrecision: usesReducedPrecision(q.backend),
        })
      : null;
  if (rt && plan) return causalAttentionFused(rt, plan, q, k, v, options.docStart, scale, shapes);
  return causalAttentionRef(q, k, v, { ...options, kvOffset: shapes.kvOffset, scale });
}
