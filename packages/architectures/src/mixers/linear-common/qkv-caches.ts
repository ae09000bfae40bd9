import { initShortConvCache, type ShortConv } from '@dynconv/layers';
import { type Backend, type DType, type Tensor, zeros } from '@dynconv/tensor';

/** The three convolved streams of the delta-rule/GLA mixers, in projection order. */
export const QKV_STREAMS = ['q', 'k', 'v'] as const;

/** Head sizes of a q/k/v linear-attention mixer (GDN, GLA) and its optional short conv. */
export interface QkvMixerDims {
  readonly nHeads: number;
  readonly headK: number;
  readonly headV: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly conv: { readonly width: number } | null | undefined;
}

/** Decode caches: `{q,k,v}_conv [B, W-1, D_stream]` (when convolved) and `recurrent_state [B, H, K, V]`. */
export function initQkvMixerCaches(
  p: { readonly dims: QkvMixerDims } & Partial<
    Record<`${(typeof QKV_STREAMS)[number]}_conv`, ShortConv | undefined>
  >,
  batch: number,
  placement: { backend?: Backend; dtype?: DType },
): Map<string, Tensor> {
  const { nHeads, headK, headV } = p.dims;
  const caches = new Map<string, Tensor>();
  for (const s of QKV_STREAMS) {
    const conv = p[`${s}_conv`];
    const cache = conv ? initShortConvCache(conv, batch, placement) : null;
    if (cache) caches.set(`${s}_conv`, cache);
  }
  caches.set('recurrent_state', zeros([batch, nHeads, headK, headV], placement));
  return caches;
}

/** Shapes of the caches `initQkvMixerCaches` makes, from the config's dims alone. */
export function qkvMixerCacheShapes(d: QkvMixerDims, batch: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = { recurrent_state: [batch, d.nHeads, d.headK, d.headV] };
  if (d.conv && d.conv.width > 1) {
    shapes['q_conv'] = [batch, d.conv.width - 1, d.keyDim];
    shapes['k_conv'] = [batch, d.conv.width - 1, d.keyDim];
    shapes['v_conv'] = [batch, d.conv.width - 1, d.valueDim];
  }
  return shapes;
}
