import { Effect, Schema } from 'effect';
import type { StackLayer } from '../blocks/stack.js';
import type { ConfigIssue } from '../config.js';
import {
  type AttentionMixerConfig,
  attentionFields,
  attentionMixer,
  validateAttention,
} from '../mixers/attention/index.js';
import type { AnyMixer } from '../mixers/types.js';
import { MoeConvPlacement } from '../moe/config.js';
import { moeFeedForwardEntry, moeFields, validateMoeOptions } from '../moe/fields.js';

/**
 * A `moe` layer of a hybrid config: one layer of the `moe` plugin, i.e.
 * attention (with optional static or dynamic short convs on q, k, v) followed
 * by a mixture-of-experts MLP, with the `moe` plugin's field names:
 * `{ mixer: 'moe', nHeads: 4, conv: 'dynamic-qkv', numExperts: 8, topK: 2 }`.
 */
export const HybridMoeLayer = Schema.Struct({
  mixer: Schema.Literal('moe'),
  ...attentionFields,
  conv: MoeConvPlacement.pipe(Schema.withDecodingDefaultKey(Effect.succeed('none' as const))),
  ...moeFields,
});
export type HybridMoeLayer = typeof HybridMoeLayer.Type;

const attentionKeys = Object.keys(attentionFields) as (keyof typeof attentionFields)[];

/** The attention half of a `moe` layer as an `attention` mixer entry (its attention fields and `conv`). */
export function moeLayerAttention(l: HybridMoeLayer): AttentionMixerConfig {
  const entry: Record<string, unknown> = { mixer: 'attention' };
  for (const k of attentionKeys) if (l[k] !== undefined) entry[k] = l[k];
  entry.conv = l.conv;
  return entry as AttentionMixerConfig;
}

/** Cross-field problems of a `moe` layer (paths relative to it): the attention's, then the experts'. */
export const validateMoeLayer = (l: HybridMoeLayer, dModel: number): ConfigIssue[] => [
  ...validateAttention(moeLayerAttention(l), dModel),
  ...validateMoeOptions(l),
];

/** The stack layer: the attention mixer, then the MoE feed-forward `sublayer` instead of a dense MLP. */
export const moeLayerStack = (l: HybridMoeLayer, dModel: number, sublayer: AnyMixer): StackLayer => ({
  mixer: attentionMixer,
  config: moeLayerAttention(l),
  mlp: null,
  feedForward: { mixer: sublayer, config: moeFeedForwardEntry(l, dModel) },
});
