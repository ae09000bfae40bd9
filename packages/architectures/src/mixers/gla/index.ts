import { gla, glaStep } from '@dynconv/kernels-webgpu';
import {
  initLinear,
  initRMSNorm,
  type Linear,
  linear,
  type RMSNorm,
  type ShortConv,
  setCache,
} from '@dynconv/layers';
import { div, neg, reshape, silu, softplus, type Tensor, tidy, unsqueeze, zeros } from '@dynconv/tensor';
import { linearParams, shortConvFlops, shortConvParams } from '../../blocks/counts.js';
import { normGateProject } from '../linear-common/norms.js';
import { initQkvMixerCaches, qkvMixerCacheShapes } from '../linear-common/qkv-caches.js';
import { initQkvConvs, projectQkv } from '../linear-common/qkv-streams.js';
import { glaFlopsPerToken } from '../linear-common/scan-flops.js';
import { mixers } from '../registry.js';
import type { MixerV1 } from '../types.js';
import { type GlaDims, GlaMixerConfig, glaDims, validateGla } from './config.js';

export { type GlaDims, GlaMixerConfig, glaDims, validateGla } from './config.js';

/**
 * GLA parameters under `model.layers.{i}.mixer` (fla names; convs are
 * `{q,k,v}_conv`, fla `{q,k,v}_conv1d`): `{q,k,v,g}_proj`, the low-rank decay
 * projection `gk_proj.0` (`[rank, d]`) and `gk_proj.1` (`[K_total, rank]` + bias),
 * `g_norm_swish_gate.weight [V]`, `o_proj`.
 */
export type GlaMixerParams = {
  readonly dims: GlaDims;
  readonly gateLogitNormalizer: number;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  g_proj?: Linear;
  gk_proj: [Linear, Linear];
  q_conv?: ShortConv;
  k_conv?: ShortConv;
  v_conv?: ShortConv;
  g_norm_swish_gate: RMSNorm;
  o_proj: Linear;
};

/**
 * Gated linear attention as a mixer: q, k, v projections (optional short
 * convs, static or DSC, SiLU after) → per-key-channel decay
 * `log α = logsigmoid(gk_proj x) / normalizer` → chunked GLA in sequence mode
 * (`recurrent_state [B, H, K, V]` in step mode) → per-head RMSNorm gated by
 * SiLU(g_proj x) → `o_proj`.
 */
export const glaMixer: MixerV1<GlaMixerConfig, GlaMixerParams> = {
  specificationVersion: 'v1',
  name: 'gla',
  description:
    'gated linear attention mixer (chunked, per-channel decay) with static or dynamic (DSC) short convs on q, k, v',
  moduleName: 'mixer',
  configSchema: GlaMixerConfig,
  validate: (c, ctx) => validateGla(c, ctx.dModel),

  init(c, ctx) {
    const d = glaDims(c, ctx.dModel);
    const o = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
    const lin = (outFeatures: number) =>
      initLinear({ ...o, inFeatures: ctx.dModel, outFeatures, init: ctx.initStd });
    const p: GlaMixerParams = {
      dims: d,
      gateLogitNormalizer: c.gateLogitNormalizer,
      q_proj: lin(d.keyDim),
      k_proj: lin(d.keyDim),
      v_proj: lin(d.valueDim),
      gk_proj: [
        lin(d.gateRank),
        initLinear({ ...o, inFeatures: d.gateRank, outFeatures: d.keyDim, bias: true, init: ctx.initStd }),
      ],
      g_norm_swish_gate: initRMSNorm({ ...o, dim: d.headV, eps: ctx.normEps }),
      o_proj: initLinear({ ...o, inFeatures: d.valueDim, outFeatures: ctx.dModel, init: ctx.outStd }),
    };
    if (c.useOutputGate) p.g_proj = lin(d.valueDim);
    Object.assign(p, initQkvConvs(d, o, ctx.dModel));
    return p;
  },

  apply: (p, x, mode) =>
    tidy(() => {
      const { nHeads: H, headK: K, headV: V, chunkSize } = p.dims;
      const [B, T] = x.shape as [number, number];
      // Every projection reading x (the decay's first factor too), plus DSC generators: one matmul.
      const projections = [p.q_proj, p.k_proj, p.v_proj, p.gk_proj[0], ...(p.g_proj ? [p.g_proj] : [])];
      const { outs, convolved } = projectQkv(p, projections, x, mode);
      const convs = [p.q_conv, p.k_conv, p.v_conv];
      const [q, k, v] = convolved.map((y, i) => (convs[i] ? silu(y) : y));
      const heads = (t: Tensor, n: number) => reshape(t, [B, T, H, n]);
      // logsigmoid(u) = −softplus(−u)
      const gk = div(neg(softplus(neg(linear(p.gk_proj[1], outs[3]!)))), p.gateLogitNormalizer);
      const [qh, kh, vh, gh] = [heads(q!, K), heads(k!, K), heads(v!, V), heads(gk, K)];
      let o: Tensor;
      if (mode.kind === 'sequence') {
        o = gla(qh, kh, vh, gh, { chunkSize, ...(mode.docStart ? { docStart: mode.docStart } : {}) }).o;
      } else {
        const state =
          mode.cache.get('recurrent_state') ?? zeros([B, H, K, V], { dtype: x.dtype, backend: x.backend });
        if (T === 1) {
          const at = (t: Tensor) =>
            reshape(
              t,
              t.shape.filter((_, i) => i !== 1),
            );
          const r = glaStep(at(qh), at(kh), at(vh), at(gh), state);
          o = unsqueeze(r.o, 1);
          setCache(mode, 'recurrent_state', r.state);
        } else {
          const r = gla(qh, kh, vh, gh, { chunkSize, initialState: state });
          o = r.o;
          setCache(mode, 'recurrent_state', r.finalState);
        }
      }
      return normGateProject(o, p.g_proj ? outs[4]! : null, p.g_norm_swish_gate, p.o_proj, [B, T, H, V]);
    }),

  initCache: (p, batch, placement) => initQkvMixerCaches(p, batch, placement),

  cacheShapes: (c, ctx, batch) => qkvMixerCacheShapes(glaDims(c, ctx.dModel), batch),

  parameterCount(c, ctx) {
    const d = glaDims(c, ctx.dModel);
    const dm = ctx.dModel;
    let n = 2 * linearParams(dm, d.keyDim) + linearParams(dm, d.valueDim);
    n += linearParams(dm, d.gateRank) + linearParams(d.gateRank, d.keyDim, true);
    if (c.useOutputGate) n += linearParams(dm, d.valueDim);
    n += d.headV + linearParams(d.valueDim, dm); // norm, o_proj
    if (d.conv) n += 2 * shortConvParams(d.conv, d.keyDim, dm) + shortConvParams(d.conv, d.valueDim, dm);
    return n;
  },

  forwardFlopsPerToken(c, ctx, seqLen) {
    const d = glaDims(c, ctx.dModel);
    const dm = ctx.dModel;
    const inputs = 2 * d.keyDim + d.valueDim + d.gateRank + (c.useOutputGate ? d.valueDim : 0);
    let f = 2 * dm * inputs + 2 * d.gateRank * d.keyDim + 2 * d.valueDim * dm;
    if (d.conv) f += 2 * shortConvFlops(d.conv, d.keyDim, dm) + shortConvFlops(d.conv, d.valueDim, dm);
    return f + d.nHeads * glaFlopsPerToken(d.headK, d.headV, d.chunkSize, seqLen);
  },
};

mixers.register(glaMixer);
