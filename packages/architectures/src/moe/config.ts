import { Effect, Schema } from 'effect';
import type { StackSpec } from '../blocks/stack.js';
import { type ConfigIssue, crossFieldCheck } from '../config.js';
import type { AnyMixer } from '../mixers/types.js';
import { TransformerConfig, transformerStack, validateTransformer } from '../transformer/index.js';
import { type MoeFeedForwardConfig, validateMoeFeedForward } from './feed-forward.js';
import { moeFeedForwardEntry, moeFields } from './fields.js';

/** Short convs of an MoE transformer: on q, k, v (the experts stay plain). */
export const MoeConvPlacement = Schema.Literals(['none', 'static-qkv', 'dynamic-qkv']);

const { conv: _conv, mlp: _mlp, mlpHidden: _hidden, ...transformerFields } = TransformerConfig.fields;

const Base = Schema.Struct({
  ...transformerFields,
  /** `dynamic-qkv`: DSC on q, k, v (the DSC paper's MoE setting, method.md §1.5). */
  conv: MoeConvPlacement.pipe(Schema.withDecodingDefaultKey(Effect.succeed('none' as const))),
  ...moeFields,
});
export type MoeConfig = typeof Base.Type;

/** The MoE feed-forward entry of every layer. */
export const moeEntry = (c: MoeConfig): MoeFeedForwardConfig => moeFeedForwardEntry(c, c.dModel);

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
