import { gatedDeltaRule, gatedDeltaStep } from '@dynconv/kernels-webgpu';
import {
  initLinear,
  initRMSNorm,
  type Linear,
  type RMSNorm,
  type ShortConv,
  setCache,
} from '@dynconv/layers';
import {
  exp,
  mul,
  neg,
  reshape,
  sigmoid,
  silu,
  softplus,
  type Tensor,
  tidy,
  unsqueeze,
  zeros,
} from '@dynconv/tensor';
import { linearParams, shortConvFlops, shortConvParams } from '../../blocks/counts.js';
import { initALog, initDtBias } from '../linear-common/decay-init.js';
import { l2Normalize, normGateProject } from '../linear-common/norms.js';
import { initQkvMixerCaches, qkvMixerCacheShapes } from '../linear-common/qkv-caches.js';
import { initQkvConvs, projectQkv } from '../linear-common/qkv-streams.js';
import { gatedDeltaFlopsPerToken } from '../linear-common/scan-flops.js';
import { mixers } from '../registry.js';
import type { MixerV1 } from '../types.js';
import {
  type GatedDeltaNetDims,
  GatedDeltaNetMixerConfig,
  gatedDeltaNetDims,
  validateGatedDeltaNet,
} from './config.js';

export {
  type GatedDeltaNetDims,
  GatedDeltaNetMixerConfig,
  gatedDeltaNetDims,
  validateGatedDeltaNet,
} from './config.js';

/**
 * Gated DeltaNet parameters under `model.layers.{i}.mixer` (fla names; the
 * convs are `{q,k,v}_conv` — fla `{q,k,v}_conv1d` — stored `[W, D]` in lag
 * order): `{q,k,v}_proj`, `a_proj`, `b_proj`, `g_proj`, `A_log [H]`,
 * `dt_bias [H]`, `o_norm.weight [V]`, `o_proj`.
 */
export type GatedDeltaNetMixerParams = {
  readonly dims: GatedDeltaNetDims;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  a_proj: Linear;
  b_proj: Linear;
  g_proj?: Linear;
  q_conv?: ShortConv;
  k_conv?: ShortConv;
  v_conv?: ShortConv;
  A_log: Tensor;
  dt_bias: Tensor;
  o_norm: RMSNorm;
  o_proj: Linear;
};

/**
 * Gated DeltaNet as a mixer: q, k, v projections → short convs (static, or
 * DSC replacing them; SiLU after) → L2-normalised q, k → gated delta rule
 * (chunked in sequence mode; `recurrent_state [B, H, K, V]` in step mode)
 * with `β = σ(b_proj x)` and `g = −exp(A_log)·softplus(a_proj x + dt_bias)`
 * → per-head RMSNorm gated by SiLU(g_proj x) → `o_proj`.
 */
export const gatedDeltaNetMixer: MixerV1<GatedDeltaNetMixerConfig, GatedDeltaNetMixerParams> = {
  specificationVersion: 'v1',
  name: 'gated-deltanet',
  description:
    'Gated DeltaNet mixer (chunked gated delta rule) with static or dynamic (DSC) short convs on q, k, v',
  moduleName: 'mixer',
  configSchema: GatedDeltaNetMixerConfig,
  validate: (c, ctx) => validateGatedDeltaNet(c, ctx.dModel),

  init(c, ctx) {
    const d = gatedDeltaNetDims(c, ctx.dModel);
    const o = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
    const lin = (outFeatures: number, init = ctx.initStd) =>
      initLinear({ ...o, inFeatures: ctx.dModel, outFeatures, init });
    const p: GatedDeltaNetMixerParams = {
      dims: d,
      q_proj: lin(d.keyDim),
      k_proj: lin(d.keyDim),
      v_proj: lin(d.valueDim),
      a_proj: lin(d.nHeads),
      b_proj: lin(d.nHeads),
      // fla draws A ~ U(0, 16); a tiny lower bound keeps log(A) finite.
      A_log: initALog(d.nHeads, 1e-3, 16, o),
      dt_bias: initDtBias(d.nHeads, 0.001, 0.1, o),
      o_norm: initRMSNorm({ ...o, dim: d.headV, eps: ctx.normEps }),
      o_proj: initLinear({ ...o, inFeatures: d.valueDim, outFeatures: ctx.dModel, init: ctx.outStd }),
    };
    if (c.useGate) p.g_proj = lin(d.valueDim);
    Object.assign(p, initQkvConvs(d, o, ctx.dModel));
    return p;
  },

  apply: (p, x, mode) =>
    tidy(() => {
      const { nHeads: H, headK: K, headV: V, chunkSize } = p.dims;
      const [B, T] = x.shape as [number, number];
      const projections = [p.q_proj, p.k_proj, p.v_proj, p.a_proj, p.b_proj, ...(p.g_proj ? [p.g_proj] : [])];
      const { outs, convolved } = projectQkv(p, projections, x, mode);
      const [q, k, v] = convolved.map((y) => silu(y));
      const heads = (t: Tensor, n: number) => reshape(t, [B, T, H, n]);
      const qh = l2Normalize(heads(q!, K));
      const kh = l2Normalize(heads(k!, K));
      const vh = heads(v!, V);
      const beta = sigmoid(outs[4]!);
      const g = mul(neg(exp(p.A_log)), softplus(outs[3]!.add(p.dt_bias)));
      let o: Tensor;
      if (mode.kind === 'sequence') {
        o = gatedDeltaRule(qh, kh, vh, g, beta, {
          chunkSize,
          ...(mode.docStart ? { docStart: mode.docStart } : {}),
        }).o;
      } else {
        const state =
          mode.cache.get('recurrent_state') ?? zeros([B, H, K, V], { dtype: x.dtype, backend: x.backend });
        if (T === 1) {
          const at = (t: Tensor) =>
            reshape(
              t,
              t.shape.filter((_, i) => i !== 1),
            );
          const r = gatedDeltaStep(at(qh), at(kh), at(vh), at(g), at(beta), state);
          o = unsqueeze(r.o, 1);
          setCache(mode, 'recurrent_state', r.state);
        } else {
          const r = gatedDeltaRule(qh, kh, vh, g, beta, { chunkSize, initialState: state });
          o = r.o;
          setCache(mode, 'recurrent_state', r.finalState);
        }
      }
      return normGateProject(o, p.g_proj ? outs[5]! : null, p.o_norm, p.o_proj, [B, T, H, V]);
    }),

  initCache: (p, batch, placement) => initQkvMixerCaches(p, batch, placement),

  cacheShapes: (c, ctx, batch) => qkvMixerCacheShapes(gatedDeltaNetDims(c, ctx.dModel), batch),

  parameterCount(c, ctx) {
    const d = gatedDeltaNetDims(c, ctx.dModel);
    const dm = ctx.dModel;
    let n = 2 * linearParams(dm, d.keyDim) + linearParams(dm, d.valueDim) + 2 * linearParams(dm, d.nHeads);
    if (c.useGate) n += linearParams(dm, d.valueDim);
    n += 2 * d.nHeads + d.headV + linearParams(d.valueDim, dm); // A_log, dt_bias, o_norm, o_proj
    if (d.conv) n += 2 * shortConvParams(d.conv, d.keyDim, dm) + shortConvParams(d.conv, d.valueDim, dm);
    return n;
  },

  // Independent of seqLen: the sequential chunk scan costs the same per token at any length.
  forwardFlopsPerToken(c, ctx) {
    const d = gatedDeltaNetDims(c, ctx.dModel);
    const dm = ctx.dModel;
    const inputs = 2 * d.keyDim + d.valueDim + 2 * d.nHeads + (c.useGate ? d.valueDim : 0);
    let f = 2 * dm * inputs + 2 * d.valueDim * dm;
    if (d.conv) f += 2 * shortConvFlops(d.conv, d.keyDim, dm) + shortConvFlops(d.conv, d.valueDim, dm);
    return f + d.nHeads * gatedDeltaFlopsPerToken(d.headK, d.headV, d.chunkSize);
  },
};

mixers.register(gatedDeltaNetMixer);
