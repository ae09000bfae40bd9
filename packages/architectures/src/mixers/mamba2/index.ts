import { ssd, ssdStep } from '@dynconv/kernels-webgpu';
import {
  constantParameter,
  convGenerator,
  convStream,
  fusedLinear,
  initLinear,
  initShortConv,
  initShortConvCache,
  type Linear,
  linear,
  type ShortConv,
  setCache,
} from '@dynconv/layers';
import {
  add,
  exp,
  neg,
  reshape,
  silu,
  softplus,
  split,
  type Tensor,
  tidy,
  unsqueeze,
  zeros,
} from '@dynconv/tensor';
import { linearParams, shortConvFlops, shortConvParams } from '../../blocks/counts.js';
import { initALog, initDtBias } from '../linear-common/decay-init.js';
import { gatedRmsNorm } from '../linear-common/norms.js';
import { ssdFlopsPerToken } from '../linear-common/scan-flops.js';
import { mixers } from '../registry.js';
import type { MixerV1 } from '../types.js';
import { type Mamba2Dims, Mamba2MixerConfig, mamba2Dims, validateMamba2 } from './config.js';

export { type Mamba2Dims, Mamba2MixerConfig, mamba2Dims, validateMamba2 } from './config.js';

/**
 * Mamba-2 parameters under `model.layers.{i}.mixer` (HF `Mamba2Mixer` names;
 * the conv is `xbc_conv` — HF `conv1d` — stored `[W, D]` in lag order):
 * `in_proj` (→ z, xBC, dt), `xbc_conv.*`, `dt_bias [H]`, `A_log [H]`, `D [H]`,
 * `norm.weight [d_inner]`, `out_proj`.
 */
export type Mamba2MixerParams = {
  readonly dims: Mamba2Dims;
  readonly eps: number;
  in_proj: Linear;
  xbc_conv?: ShortConv;
  dt_bias: Tensor;
  A_log: Tensor;
  D: Tensor;
  norm: { weight: Tensor };
  out_proj: Linear;
};

/**
 * Mamba-2 (SSD) as a mixer: `in_proj` → causal conv on xBC (static, or DSC
 * replacing it; SiLU after) → SSD scan (chunked in sequence mode; recurrent
 * state `ssm_state [B, H, P, N]` in step mode) → gated RMSNorm with z →
 * `out_proj`. Packed documents (`docStart`) reset both the conv and the state.
 */
export const mamba2Mixer: MixerV1<Mamba2MixerConfig, Mamba2MixerParams> = {
  specificationVersion: 'v1',
  name: 'mamba2',
  description: 'Mamba-2 SSD mixer (chunked scan) with a static or dynamic (DSC) short conv on xBC',
  moduleName: 'mixer',
  configSchema: Mamba2MixerConfig,
  validate: (c, ctx) => validateMamba2(c, ctx.dModel),

  init(c, ctx) {
    const d = mamba2Dims(c, ctx.dModel);
    const o = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
    const p: Mamba2MixerParams = {
      dims: d,
      eps: ctx.normEps,
      in_proj: initLinear({ ...o, inFeatures: ctx.dModel, outFeatures: d.inProj, init: ctx.initStd }),
      dt_bias: initDtBias(d.nHeads, c.dtMin, c.dtMax, o),
      A_log: initALog(d.nHeads, 1, 16, o),
      D: constantParameter([d.nHeads], o, 1),
      norm: { weight: constantParameter([d.dInner], o, 1) },
      out_proj: initLinear({ ...o, inFeatures: d.dInner, outFeatures: ctx.dModel, init: ctx.outStd }),
    };
    if (d.conv) p.xbc_conv = initShortConv(d.conv, { ...o, channels: d.convDim, generatorDim: ctx.dModel });
    return p;
  },

  apply: (p, x, mode) =>
    tidy(() => {
      const { dInner, nHeads: H, headDim: P, dState: N, nGroups: G, convDim, chunkSize } = p.dims;
      const [B, T] = x.shape as [number, number];
      // A dynamic conv's generator reads the same input as in_proj: one matmul.
      const generator = p.xbc_conv ? convGenerator(p.xbc_conv) : null;
      const [projected, z] = fusedLinear(generator ? [p.in_proj, generator] : [p.in_proj], x);
      const [gate, xbcRaw, dtRaw] = split(projected!, [dInner, convDim, H], -1) as [Tensor, Tensor, Tensor];
      const xbc = silu(convStream('xbc_conv', p.xbc_conv, xbcRaw, z, mode));
      const [xs, bs, cs] = split(xbc, [dInner, G * N, G * N], -1) as [Tensor, Tensor, Tensor];
      const xh = reshape(xs, [B, T, H, P]);
      const bh = reshape(bs, [B, T, G, N]);
      const ch = reshape(cs, [B, T, G, N]);
      const dt = softplus(add(dtRaw, p.dt_bias));
      const A = neg(exp(p.A_log));
      let y: Tensor;
      if (mode.kind === 'sequence') {
        y = ssd(xh, dt, A, bh, ch, {
          D: p.D,
          chunkSize,
          ...(mode.docStart ? { docStart: mode.docStart } : {}),
        }).y;
      } else {
        const state =
          mode.cache.get('ssm_state') ?? zeros([B, H, P, N], { dtype: x.dtype, backend: x.backend });
        if (T === 1) {
          const at = (t: Tensor) =>
            reshape(
              t,
              t.shape.filter((_, i) => i !== 1),
            );
          const r = ssdStep(at(xh), at(dt), A, at(bh), at(ch), state, p.D);
          y = unsqueeze(r.y, 1);
          setCache(mode, 'ssm_state', r.state);
        } else {
          const r = ssd(xh, dt, A, bh, ch, { D: p.D, chunkSize, initialState: state });
          y = r.y;
          setCache(mode, 'ssm_state', r.finalState);
        }
      }
      const normed = gatedRmsNorm(reshape(y, [B, T, dInner]), gate, p.norm.weight, {
        groupSize: dInner / G,
        eps: p.eps,
        order: 'gate-then-norm',
      });
      return linear(p.out_proj, normed);
    }),

  initCache(p, batch, placement) {
    const { nHeads, headDim, dState } = p.dims;
    const caches = new Map<string, Tensor>();
    const conv = p.xbc_conv ? initShortConvCache(p.xbc_conv, batch, placement) : null;
    if (conv) caches.set('xbc_conv', conv);
    caches.set('ssm_state', zeros([batch, nHeads, headDim, dState], placement));
    return caches;
  },

  cacheShapes(c, ctx, batch) {
    const d = mamba2Dims(c, ctx.dModel);
    const shapes: Record<string, number[]> = { ssm_state: [batch, d.nHeads, d.headDim, d.dState] };
    if (d.conv && d.conv.width > 1) shapes['xbc_conv'] = [batch, d.conv.width - 1, d.convDim];
    return shapes;
  },

  parameterCount(c, ctx) {
    const d = mamba2Dims(c, ctx.dModel);
    const conv = d.conv ? shortConvParams(d.conv, d.convDim, ctx.dModel) : 0;
    // in_proj, conv, dt_bias + A_log + D, norm, out_proj
    return (
      linearParams(ctx.dModel, d.inProj) + conv + 3 * d.nHeads + d.dInner + linearParams(d.dInner, ctx.dModel)
    );
  },

  forwardFlopsPerToken(c, ctx, seqLen) {
    const d = mamba2Dims(c, ctx.dModel);
    const conv = d.conv ? shortConvFlops(d.conv, d.convDim, ctx.dModel) : 0;
    const scan = d.nHeads * ssdFlopsPerToken(d.headDim, d.dState, d.chunkSize, seqLen);
    return 2 * ctx.dModel * d.inProj + conv + scan + 2 * d.dInner * ctx.dModel;
  },
};

mixers.register(mamba2Mixer);
