import {
  convStream,
  fusedLinear,
  initLinear,
  initShortConv,
  initShortConvCache,
  type Linear,
  linear,
  type ShortConv,
} from '@dynconv/layers';
import { silu, tidy } from '@dynconv/tensor';
import { Effect, Schema } from 'effect';
import { linearParams, shortConvFlops, shortConvParams } from '../../blocks/counts.js';
import { PositiveInt } from '../../config.js';
import type { MixerV1 } from '../../mixers/types.js';

/**
 * Step 1 of the worked example: a token mixer. A gated short convolution
 * (H3 / BaseConv style): `y = out_proj(conv(in_proj x) ⊙ SiLU(gate_proj x))`,
 * with a causal depthwise conv of width `width` on the `in_proj` stream.
 */
export const GatedConvConfig = Schema.Struct({
  mixer: Schema.Literal('gated-conv'),
  width: PositiveInt.check(Schema.isLessThanOrEqualTo(8)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(4)),
  ),
  /** Inner width as a multiple of dModel. */
  expand: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
});
export type GatedConvConfig = typeof GatedConvConfig.Type;

/** Parameters under `model.layers.{i}.mixer`: `in_proj`, `gate_proj`, `conv`, `out_proj`. */
export type GatedConvParams = { in_proj: Linear; gate_proj: Linear; conv: ShortConv; out_proj: Linear };

export const gatedConvMixer: MixerV1<GatedConvConfig, GatedConvParams> = {
  specificationVersion: 'v1',
  name: 'gated-conv',
  description: 'gated causal short convolution (worked example)',
  moduleName: 'mixer',
  configSchema: GatedConvConfig,
  validate: () => [],

  init(c, ctx) {
    const inner = c.expand * ctx.dModel;
    const o = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
    return {
      in_proj: initLinear({ ...o, inFeatures: ctx.dModel, outFeatures: inner, init: ctx.initStd }),
      gate_proj: initLinear({ ...o, inFeatures: ctx.dModel, outFeatures: inner, init: ctx.initStd }),
      conv: initShortConv({ kind: 'static', width: c.width, residual: true }, { ...o, channels: inner }),
      out_proj: initLinear({ ...o, inFeatures: inner, outFeatures: ctx.dModel, init: ctx.outStd }),
    };
  },

  // `mode` is either a whole sequence or a decode step; convStream handles the conv cache in both.
  apply: (p, x, mode) =>
    tidy(() => {
      const [u, g] = fusedLinear([p.in_proj, p.gate_proj], x);
      return linear(p.out_proj, convStream('conv', p.conv, u!, undefined, mode).mul(silu(g!)));
    }),

  initCache(p, batch, placement) {
    const cache = initShortConvCache(p.conv, batch, placement);
    return new Map(cache ? [['conv', cache]] : []);
  },

  cacheShapes: (c, ctx, batch) => (c.width > 1 ? { conv: [batch, c.width - 1, c.expand * ctx.dModel] } : {}),

  parameterCount(c, ctx) {
    const inner = c.expand * ctx.dModel;
    return (
      2 * linearParams(ctx.dModel, inner) +
      shortConvParams({ kind: 'static', width: c.width }, inner, 0) +
      linearParams(inner, ctx.dModel)
    );
  },

  forwardFlopsPerToken(c, ctx) {
    const inner = c.expand * ctx.dModel;
    return 2 * 3 * ctx.dModel * inner + shortConvFlops({ kind: 'static', width: c.width }, inner, 0) + inner;
  },
};
