import { Effect, Schema } from 'effect';
import { defaultMlpHidden } from '../blocks/mlp-spec.js';
import type { StackSpec } from '../blocks/stack.js';
import { type ConfigIssue, crossFieldCheck, PositiveInt, PositiveNumber } from '../config.js';
import { mixers } from '../mixers/registry.js';

/** One decoded layer entry: `mixer` names a registered mixer, the rest is that mixer's config. */
export type HybridLayer = { readonly mixer: string } & Readonly<Record<string, unknown>>;

export interface HybridConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly layers: readonly HybridLayer[];
  readonly mlp: 'swiglu' | 'gelu' | 'none';
  readonly mlpHidden?: number;
  readonly tieEmbeddings: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly scaledOutputInit: boolean;
}

/** Cross-field problems of every layer, with paths `["layers", i, ...]`. */
export function validateHybrid(c: HybridConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  c.layers.forEach((layer, i) => {
    const mixer = mixers.get(layer.mixer);
    for (const issue of mixer.validate(layer, { dModel: c.dModel }))
      issues.push({
        path: ['layers', i, ...issue.path],
        message: `layer ${i} (${layer.mixer}): ${issue.message}`,
      });
  });
  return issues;
}

/**
 * The hybrid config schema over the mixers registered NOW: `layers` is an
 * array whose entries are a union of the mixers' entry schemas (discriminated
 * by `mixer`). Built on demand so that mixers registered later are accepted.
 */
export function hybridConfigSchema(): Schema.Codec<HybridConfig, unknown> {
  const entries = mixers.list().map((name) => mixers.get(name).configSchema);
  const Layer = Schema.Union(entries).annotate({
    expected: `a layer { mixer: ${mixers
      .list()
      .map((n) => JSON.stringify(n))
      .join(' | ')}, ... }`,
  });
  const Base = Schema.Struct({
    vocabSize: PositiveInt,
    dModel: PositiveInt,
    /** One entry per layer, in order. */
    layers: Schema.Array(Layer).check(Schema.isMinLength(1)),
    /** The MLP after every mixer (`none`: mixer-only blocks). */
    mlp: Schema.Literals(['swiglu', 'gelu', 'none']).pipe(
      Schema.withDecodingDefaultKey(Effect.succeed('swiglu' as const)),
    ),
    mlpHidden: Schema.optionalKey(PositiveInt),
    tieEmbeddings: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
    normEps: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-6))),
    initStd: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.02))),
    scaledOutputInit: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  });
  return Base.check(crossFieldCheck<HybridConfig>((c) => validateHybrid(c))) as unknown as Schema.Codec<
    HybridConfig,
    unknown
  >;
}

export const hybridStack = (c: HybridConfig): StackSpec => {
  const mlp = c.mlp === 'none' ? null : { kind: c.mlp, hidden: c.mlpHidden ?? defaultMlpHidden(c.dModel) };
  return {
    vocabSize: c.vocabSize,
    dModel: c.dModel,
    normEps: c.normEps,
    tieEmbeddings: c.tieEmbeddings,
    initStd: c.initStd,
    scaledOutputInit: c.scaledOutputInit,
    layers: c.layers.map((config) => ({ mixer: mixers.get(config.mixer), config, mlp })),
  };
};
