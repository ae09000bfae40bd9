import { Effect, Schema } from 'effect';
import { defaultMlpHidden } from '../blocks/mlp-spec.js';
import type { StackSpec } from '../blocks/stack.js';
import { type ConfigIssue, crossFieldCheck, PositiveInt, PositiveNumber } from '../config.js';
import type { AnyMixer } from '../mixers/types.js';
import { TransformerConfig, transformerStack, validateTransformer } from '../transformer/index.js';
import { type MoeFeedForwardConfig, validateMoeFeedForward } from './feed-forward.js';

/** Short convs of an MoE transformer: on q, k, v (the experts stay plain). */
export const MoeConvPlacement = Schema.Literals(['none', 'static-qkv', 'dynamic-qkv']);

const { conv: _conv, mlp: _mlp, mlpHidden: _hidden, ...transformerFields } = TransformerConfig.fields;

const Base = Schema.Struct({
  ...transformerFields,
  /** `dynamic-qkv`: DSC on q, k, v (the DSC paper's MoE setting, method.md §1.5). */
  conv: MoeConvPlacement.pipe(Schema.withDecodingDefaultKey(Effect.succeed('none' as const))),
  numExperts: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
  /** Experts per token; at most numExperts. */
  topK: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))),
  /** Hidden width of each SwiGLU expert; default the dense Llama width ⌈8d/3⌉ (to 64). */
  expertHidden: Schema.optionalKey(PositiveInt),
  normalizeTopK: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  /** Capacity factor for training forwards (overflow → residual path); absent = dropless. */
  capacityFactor: Schema.optionalKey(PositiveNumber),
  loadBalancingCoef: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.01)),
  ),
  zLossCoef: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.001)),
  ),
});
export type MoeConfig = typeof Base.Type;

/** The MoE feed-forward entry of every layer. */
export const moeEntry = (c: MoeConfig): MoeFeedForwardConfig => ({
  mixer: 'moe',
  numExperts: c.numExperts,
  topK: c.topK,
  expertHidden: c.expertHidden ?? defaultMlpHidden(c.dModel),
  normalizeTopK: c.normalizeTopK,
  ...(c.capacityFactor !== undefined ? { capacityFactor: c.capacityFactor } : {}),
  loadBalancingCoef: c.loadBalancingCoef,
  zLossCoef: c.zLossCoef,
});

/** The attention half as a transformer config (no dense MLP). */
const asTransformer = (c: MoeConfig): TransformerConfig => ({ ...c, mlp: 'swiglu' });

export function validateMoe(c: MoeConfig): ConfigIssue[] {
  return [...validateTransformer(asTransformer(c)), ...validateMoeFeedForward(moeEntry(c))];
}

/** MoE transformer config: a transformer's fields plus the experts', problems reported at their paths. */
export const MoeConfig = Base.check(crossFieldCheck<MoeConfig>(validateMoe));

/** The transformer stack with every MLP replaced by the MoE feed-forward `sublayer`. */
export function moeStack(c: MoeConfig, sublayer: AnyMixer): StackSpec {
  const stack = transformerStack(asTransformer(c));
  const entry = moeEntry(c);
  return {
    ...stack,
    layers: stack.layers.map((l) => ({ ...l, mlp: null, feedForward: { mixer: sublayer, config: entry } })),
  };
}
