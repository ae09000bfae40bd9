import {
  convGenerator,
  convStream,
  fusedLinear,
  type InitOptions,
  initShortConv,
  type Linear,
  type SequenceMode,
  type ShortConv,
  type ShortConvSpec,
} from '@dynconv/layers';
import type { Tensor } from '@dynconv/tensor';
import { QKV_STREAMS } from './qkv-caches.js';

/** The optional short convs of the q, k, v streams, as mixer parameters. */
export type QkvConvs = Partial<Record<`${(typeof QKV_STREAMS)[number]}_conv`, ShortConv | undefined>>;

/** Short convs (static or DSC) on q, k, v of widths keyDim, keyDim, valueDim; none without a conv spec. */
export function initQkvConvs(
  d: { readonly conv: ShortConvSpec | null; readonly keyDim: number; readonly valueDim: number },
  o: InitOptions,
  generatorDim: number,
): QkvConvs {
  const convs: QkvConvs = {};
  if (!d.conv) return convs;
  const widths = { q: d.keyDim, k: d.keyDim, v: d.valueDim };
  for (const s of QKV_STREAMS)
    convs[`${s}_conv`] = initShortConv(d.conv, { ...o, channels: widths[s], generatorDim });
  return convs;
}

/**
 * The projections of a q/k/v linear mixer and its q, k, v streams: every
 * projection reading `x` plus the DSC generators of the q/k/v convs in one
 * matmul (`projections` must start with q, k, v), then q, k, v through
 * their short convs (unchanged where there is none).
 * @returns `outs[i]` for `projections[i]`, and `convolved` = [q, k, v] after the convs
 */
export function projectQkv(
  p: QkvConvs,
  projections: readonly Linear[],
  x: Tensor,
  mode: SequenceMode,
): { readonly outs: Tensor[]; readonly convolved: [Tensor, Tensor, Tensor] } {
  const convs = [p.q_conv, p.k_conv, p.v_conv];
  const generators = convs.map((c) => (c ? convGenerator(c) : null));
  const outs = fusedLinear([...projections, ...generators.filter((g): g is Linear => g !== null)], x);
  let next = projections.length;
  const z = generators.map((g) => (g ? outs[next++] : undefined));
  const convolved = QKV_STREAMS.map((s, i) => convStream(`${s}_conv`, convs[i], outs[i]!, z[i], mode)) as [
    Tensor,
    Tensor,
    Tensor,
  ];
  return { outs, convolved };
}
