import { Effect, Schema } from 'effect';
import { defaultMlpHidden } from '../blocks/mlp-spec.js';
import { type ConfigIssue, PositiveInt, PositiveNumber } from '../config.js';
import type { MoeFeedForwardConfig } from './feed-forward.js';

const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0));

/**
 * The mixture-of-experts options, shared by the `moe` plugin (top level), a
 * hybrid MoE MLP (`mlp: { kind: 'moe', ... }`) and a hybrid `moe` layer, so
 * the names, defaults and validation messages are the same everywhere.
 */
export const moeFields = {
  numExperts: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
  /** Experts per token; at most numExperts. */
  topK: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))),
  /** Hidden width of each SwiGLU expert; default the dense Llama width ⌈8d/3⌉ (to 64). */
  expertHidden: Schema.optionalKey(PositiveInt),
  /** Renormalise the chosen experts' weights to sum to 1 (Mixtral, Qwen-MoE). */
  normalizeTopK: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  /** Capacity factor for training forwards (overflow → residual path); absent = dropless. */
  capacityFactor: Schema.optionalKey(PositiveNumber),
  /** Weight of the Switch load-balancing loss in the model's `auxLoss()`. */
  loadBalancingCoef: NonNegative.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.01))),
  /** Weight of the router z-loss in the model's `auxLoss()`. */
  zLossCoef: NonNegative.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.001))),
};

/** The decoded MoE options (`moeFields`). */
export interface MoeOptionsConfig {
  readonly numExperts: number;
  readonly topK: number;
  readonly expertHidden?: number;
  readonly normalizeTopK: boolean;
  readonly capacityFactor?: number;
  readonly loadBalancingCoef: number;
  readonly zLossCoef: number;
}

/** The feed-forward sublayer entry for these options at `dModel` (expert width defaulted). */
export const moeFeedForwardEntry = (c: MoeOptionsConfig, dModel: number): MoeFeedForwardConfig => ({
  mixer: 'moe',
  numExperts: c.numExperts,
  topK: c.topK,
  expertHidden: c.expertHidden ?? defaultMlpHidden(dModel),
  normalizeTopK: c.normalizeTopK,
  ...(c.capacityFactor !== undefined ? { capacityFactor: c.capacityFactor } : {}),
  loadBalancingCoef: c.loadBalancingCoef,
  zLossCoef: c.zLossCoef,
});

/** Cross-field problems of MoE options, paths relative to them. */
export function validateMoeOptions(
  c: Pick<MoeOptionsConfig, 'numExperts' | 'topK' | 'normalizeTopK'>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (c.topK > c.numExperts)
    issues.push({
      path: ['topK'],
      message: `topK ${c.topK} exceeds the ${c.numExperts} experts (numExperts)`,
    });
  // One renormalised weight is always 1: the router would get no gradient from the language-model loss.
  if (c.topK === 1 && c.normalizeTopK)
    issues.push({
      path: ['normalizeTopK'],
      message:
        'normalizeTopK with topK 1 fixes the combine weight at 1, so the router learns from the aux losses only (set normalizeTopK: false, as in Switch)',
    });
  return issues;
}
