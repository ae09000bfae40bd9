import {
  type Attention,
  attentionSublayer,
  type ContentSkip,
  initAttention,
  initAttentionCache,
  initContentSkip,
  initPreProjection,
  type PreProjection,
  preProjection,
} from '@dynconv/layers';
import { tidy } from '@dynconv/tensor';
import { linearParams, shortConvFlops, shortConvParams } from '../../blocks/counts.js';
import { mixers } from '../registry.js';
import type { MixerV1 } from '../types.js';
import {
  type AttentionMixerConfig,
  attentionDims,
  AttentionMixerConfig as Schema_,
  validateAttention,
} from './config.js';

export {
  type AttentionConvPlacement,
  AttentionMixerConfig,
  attentionDims,
  attentionFields,
  validateAttention,
} from './config.js';

/**
 * Attention parameters under `model.layers.{i}.self_attn`: `{q,k,v,o}_proj`,
 * `{q,k}_norm`, `{q,k,v,o}_conv.*`, and with pre-projection `pre_proj.{up,down}_proj`
 * and `skip_proj` (the content skip, `W_skip e`).
 */
export type AttentionMixerParams = Attention & {
  pre_proj?: PreProjection;
  skip_proj?: ContentSkip['skip_proj'];
};

/**
 * Causal softmax attention as a mixer: GQA, QK-norm, (partial) RoPE, static or
 * dynamic short convs on q/k/v(/o), optional pre-projection + content skip.
 */
export const attentionMixer: MixerV1<AttentionMixerConfig, AttentionMixerParams> = {
  specificationVersion: 'v1',
  name: 'attention',
  description:
    'causal softmax attention (GQA, QK-norm, RoPE, short convs on q/k/v/o, pre-projection + content skip)',
  moduleName: 'self_attn',
  configSchema: Schema_,
  validate: (c, ctx) => validateAttention(c, ctx.dModel),

  init(c, ctx) {
    const dims = attentionDims(c, ctx.dModel);
    const p: AttentionMixerParams = initAttention({
      dModel: ctx.dModel,
      nHeads: dims.nHeads,
      nKvHeads: dims.nKvHeads,
      headDim: dims.headDim,
      qkNorm: c.qkNorm,
      normEps: ctx.normEps,
      rope: { theta: c.ropeTheta, rotaryFraction: c.rotaryFraction },
      convs: dims.convs,
      std: ctx.initStd,
      outStd: ctx.outStd,
      generator: ctx.generator,
      ...(ctx.backend ? { backend: ctx.backend } : {}),
    });
    const placement = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
    if (dims.preHidden)
      p.pre_proj = initPreProjection({
        dModel: ctx.dModel,
        expansion: c.preProjectionExpansion,
        ...placement,
      });
    if (dims.skip) p.skip_proj = initContentSkip({ dModel: ctx.dModel, ...placement }).skip_proj;
    return p;
  },

  apply: (p, x, mode) =>
    tidy(() => {
      // The pre-projection output e feeds q/k/v (and their conv generators) and the skip, all in one matmul.
      const e = p.pre_proj ? preProjection(p.pre_proj, x) : x;
      const { y, extra } = attentionSublayer(p, e, mode, p.skip_proj ? { extra: [p.skip_proj] } : {});
      return extra[0] ? y.add(extra[0]) : y;
    }),

  initCache: (p, batch, placement) => initAttentionCache(p, batch, placement),

  cacheShapes(c, ctx, batch, maxLength) {
    const d = attentionDims(c, ctx.dModel);
    const shapes: Record<string, number[]> = {
      k: [batch, d.nKvHeads, maxLength, d.headDim],
      v: [batch, d.nKvHeads, maxLength, d.headDim],
    };
    const widths = { q: d.dq, k: d.dkv, v: d.dkv, o: ctx.dModel };
    for (const s of ['q', 'k', 'v', 'o'] as const) {
      const spec = d.convs[s];
      if (spec && spec.width > 1) shapes[`${s}_conv`] = [batch, spec.width - 1, widths[s]];
    }
    return shapes;
  },

  parameterCount(c, ctx) {
    const d = attentionDims(c, ctx.dModel);
    const dm = ctx.dModel;
    let n = linearParams(dm, d.dq) + 2 * linearParams(dm, d.dkv) + linearParams(d.dq, dm);
    if (c.qkNorm) n += 2 * d.headDim;
    const { q, k, v, o } = d.convs;
    if (q) n += shortConvParams(q, d.dq, dm);
    if (k) n += shortConvParams(k, d.dkv, dm);
    if (v) n += shortConvParams(v, d.dkv, dm);
    if (o) n += shortConvParams(o, dm, d.dq);
    if (d.preHidden) n += 2 * dm * d.preHidden;
    if (d.skip) n += dm * dm;
    return n;
  },

  forwardFlopsPerToken(c, ctx, seqLen) {
    const d = attentionDims(c, ctx.dModel);
    const dm = ctx.dModel;
    // Projections, then scores q·kᵀ and the weighted sum of v: 2·T·d_q each.
    let f = 2 * (dm * d.dq + 2 * dm * d.dkv + d.dq * dm) + 2 * 2 * seqLen * d.dq;
    const { q, k, v, o } = d.convs;
    if (q) f += shortConvFlops(q, d.dq, dm);
    if (k) f += shortConvFlops(k, d.dkv, dm);
    if (v) f += shortConvFlops(v, d.dkv, dm);
    if (o) f += shortConvFlops(o, dm, d.dq);
    if (d.preHidden) f += 2 * 2 * dm * d.preHidden;
    if (d.skip) f += 2 * dm * dm;
    return f;
  },
};

mixers.register(attentionMixer);
