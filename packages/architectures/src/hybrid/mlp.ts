import { Schema } from 'effect';
import { defaultMlpHidden, type MlpSpec } from '../blocks/mlp-spec.js';
import type { StackLayer } from '../blocks/stack.js';
import type { ConfigIssue } from '../config.js';
import type { AnyMixer } from '../mixers/types.js';
import { moeFeedForwardEntry, moeFields, validateMoeOptions } from '../moe/fields.js';

/** A mixture-of-experts MLP: the `moe` plugin's options (`numExperts`, `topK`, …). */
export const HybridMoeMlp = Schema.Struct({ kind: Schema.Literal('moe'), ...moeFields });
export type HybridMoeMlp = typeof HybridMoeMlp.Type;

/**
 * The MLP of a hybrid block: a dense `swiglu` or `gelu` MLP (width
 * `mlpHidden`), none, or a mixture of SwiGLU experts
 * (`{ kind: 'moe', numExperts, topK, ... }`).
 */
export const HybridMlp = Schema.Union([Schema.Literals(['swiglu', 'gelu', 'none']), HybridMoeMlp]);
export type HybridMlp = typeof HybridMlp.Type;

export const isMoeMlp = (m: HybridMlp): m is HybridMoeMlp => typeof m === 'object';

/** Cross-field problems of one MLP choice (paths relative to it). */
export const validateMlp = (m: HybridMlp): ConfigIssue[] => (isMoeMlp(m) ? validateMoeOptions(m) : []);

/** The MLP half of a stack layer: a dense MLP, nothing, or the MoE feed-forward `sublayer`. */
export function mlpPart(
  m: HybridMlp,
  dModel: number,
  mlpHidden: number | undefined,
  sublayer: AnyMixer,
): Pick<StackLayer, 'mlp' | 'feedForward'> {
  if (m === 'none') return { mlp: null };
  if (isMoeMlp(m))
    return { mlp: null, feedForward: { mixer: sublayer, config: moeFeedForwardEntry(m, dModel) } };
  const dense: MlpSpec = { kind: m, hidden: mlpHidden ?? defaultMlpHidden(dModel) };
  return { mlp: dense };
}
