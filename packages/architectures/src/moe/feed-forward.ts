import { moe } from '@dynconv/kernels-webgpu';
import { initLinear, type Linear, normalParameter } from '@dynconv/layers';
import { keep, mul, reshape, type Tensor, tidy, transpose } from '@dynconv/tensor';
import { Schema } from 'effect';
import { type ConfigIssue, PositiveInt } from '../config.js';
import type { MixerV1 } from '../mixers/types.js';
import { moeFields, validateMoeOptions } from './fields.js';

/** The MoE feed-forward of one layer (not a token mixer: it replaces the MLP; see `StackLayer.feedForward`). */
export const MoeFeedForwardConfig = Schema.Struct({
  mixer: Schema.Literal('moe'),
  ...moeFields,
  /** Hidden width of each SwiGLU expert. */
  expertHidden: PositiveInt,
});
export type MoeFeedForwardConfig = typeof MoeFeedForwardConfig.Type;

export const validateMoeFeedForward = (c: MoeFeedForwardConfig): ConfigIssue[] => validateMoeOptions(c);

/** Routing outcome of one layer's last training/eval forward. */
export interface MoeLayerStats {
  /** (token, slot) assignments dropped by the capacity limit. */
  readonly dropped: number;
  /** Assignments each expert received (before the capacity cut). */
  readonly tokensPerExpert: number[];
}

/**
 * Holds what one MoE layer's last sequence-mode forward left behind: the
 * weighted auxiliary loss (still attached to the graph) and routing counts.
 * A class instance, so parameter walkers (plain objects only) skip it.
 */
export class MoeRecorder {
  private aux: Tensor | null = null;
  private counts: { dropped: Tensor; tokensPerExpert: Tensor } | null = null;

  /** Replaces the previous record; the tensors leave every scope. */
  record(aux: Tensor, dropped: Tensor, tokensPerExpert: Tensor): void {
    this.clear();
    this.aux = keep(aux);
    this.counts = { dropped: keep(dropped), tokensPerExpert: keep(tokensPerExpert) };
  }

  /** The recorded aux loss (caller owns it), or null if taken already. */
  takeAux(): Tensor | null {
    const a = this.aux;
    this.aux = null;
    return a;
  }

  async stats(): Promise<MoeLayerStats | null> {
    if (!this.counts) return null;
    return {
      dropped: await this.counts.dropped.item(),
      tokensPerExpert: await this.counts.tokensPerExpert.toArray(),
    };
  }

  clear(): void {
    this.aux?.dispose();
    this.aux = null;
    this.counts?.dropped.dispose();
    this.counts?.tokensPerExpert.dispose();
    this.counts = null;
  }
}

/**
 * MoE parameters under `model.layers.{i}.mlp` (Qwen-MoE style names, experts
 * stacked): `gate.weight [E, d]` (the router), `experts.gate_proj [E, d, F]`,
 * `experts.up_proj [E, d, F]`, `experts.down_proj [E, F, d]`.
 */
export type MoeFeedForwardParams = {
  readonly config: MoeFeedForwardConfig;
  readonly recorder: MoeRecorder;
  gate: Linear;
  experts: { gate_proj: Tensor; up_proj: Tensor; down_proj: Tensor };
};

/**
 * A fresh MoE feed-forward sublayer plus the recorders of the layers it
 * initialises (one per `init`), so a model can collect its auxiliary losses.
 */
export function makeMoeFeedForward(): {
  sublayer: MixerV1<MoeFeedForwardConfig, MoeFeedForwardParams>;
  recorders: MoeRecorder[];
} {
  const recorders: MoeRecorder[] = [];
  const sublayer: MixerV1<MoeFeedForwardConfig, MoeFeedForwardParams> = {
    specificationVersion: 'v1',
    name: 'moe',
    description: 'mixture of SwiGLU experts: top-k softmax router, dropless or capacity-limited dispatch',
    moduleName: 'mlp',
    configSchema: MoeFeedForwardConfig,
    validate: (c) => validateMoeFeedForward(c),

    init(c, ctx) {
      const o = { generator: ctx.generator, ...(ctx.backend ? { backend: ctx.backend } : {}) };
      const [E, d, F] = [c.numExperts, ctx.dModel, c.expertHidden];
      const recorder = new MoeRecorder();
      recorders.push(recorder);
      return {
        config: c,
        recorder,
        gate: initLinear({ ...o, inFeatures: d, outFeatures: E, init: ctx.initStd }),
        experts: {
          gate_proj: normalParameter([E, d, F], ctx.initStd, o),
          up_proj: normalParameter([E, d, F], ctx.initStd, o),
          down_proj: normalParameter([E, F, d], ctx.outStd, o),
        },
      };
    },

    apply: (p, x, mode) =>
      tidy(() => {
        const [B, T, d] = x.shape as [number, number, number];
        const c = p.config;
        // Decoding is always dropless: a capacity that depends on the batch would change the outputs.
        const capacity =
          mode.kind === 'sequence' && c.capacityFactor !== undefined
            ? { capacityFactor: c.capacityFactor }
            : {};
        const r = moe(
          reshape(x, [B * T, d]),
          transpose(p.gate.weight),
          { gate: p.experts.gate_proj, up: p.experts.up_proj, down: p.experts.down_proj },
          { topK: c.topK, normalizeTopK: c.normalizeTopK, ...capacity },
        );
        if (mode.kind === 'sequence') {
          const aux = mul(r.loadBalancingLoss, c.loadBalancingCoef).add(mul(r.zLoss, c.zLossCoef));
          p.recorder.record(aux, r.dropped, r.tokensPerExpert);
        }
        return reshape(r.y, [B, T, d]);
      }),

    initCache: () => new Map(),
    cacheShapes: () => ({}),
    parameterCount: (c, ctx) => c.numExperts * (ctx.dModel + 3 * ctx.dModel * c.expertHidden),
    /**
     * Active FLOPs: the router (2·d·E) and k SwiGLU experts (6·d·F each).
     * Dropless dispatch runs exactly these (the N·k routed rows, grouped by
     * expert); with a capacity factor the dropped rows are not multiplied, so
     * it runs at most these.
     */
    forwardFlopsPerToken: (c, ctx) =>
      2 * ctx.dModel * c.numExperts + c.topK * 6 * ctx.dModel * c.expertHidden,
  };
  return { sublayer, recorders };
}

/** A sublayer for parameter and FLOP counts (its recorders are never used). */
export const moeCounting = makeMoeFeedForward().sublayer;
