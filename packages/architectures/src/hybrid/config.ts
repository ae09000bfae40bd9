import { Effect, Schema } from 'effect';
import type { StackLayer, StackSpec } from '../blocks/stack.js';
import { type ConfigIssue, crossFieldCheck, PositiveInt, PositiveNumber } from '../config.js';
import { mixers } from '../mixers/registry.js';
import type { AnyMixer } from '../mixers/types.js';
import { moeCounting } from '../moe/feed-forward.js';
import { HybridMlp, mlpPart, validateMlp } from './mlp.js';
import { HybridMoeLayer, moeLayerStack, validateMoeLayer } from './moe-layer.js';

/**
 * One decoded layer entry: `mixer` names a registered mixer (the rest is that
 * mixer's config, plus an optional `mlp` overriding the config's top-level
 * one for this layer), or is `moe` (a `HybridMoeLayer`: attention + MoE MLP).
 */
export type HybridLayer = { readonly mixer: string; readonly mlp?: HybridMlp } & Readonly<
  Record<string, unknown>
>;

export interface HybridConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly layers: readonly HybridLayer[];
  readonly mlp: HybridMlp;
  readonly mlpHidden?: number;
  readonly tieEmbeddings: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly scaledOutputInit: boolean;
}

/** The layer kind the hybrid adds to the registered mixers. */
export const MOE_LAYER = 'moe';

const isMoeLayer = (l: HybridLayer): l is HybridLayer & HybridMoeLayer => l.mixer === MOE_LAYER;

/** Cross-field problems of the MLP choice and of every layer, with paths `["mlp", ...]` and `["layers", i, ...]`. */
export function validateHybrid(c: HybridConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = validateMlp(c.mlp).map((issue) => ({
    path: ['mlp', ...issue.path],
    message: `mlp: ${issue.message}`,
  }));
  c.layers.forEach((layer, i) => {
    const report = (found: readonly ConfigIssue[], under: readonly PropertyKey[] = []) => {
      const where = `layer ${i} (${layer.mixer})${under.length ? ` ${under.join('.')}` : ''}`;
      for (const issue of found)
        issues.push({ path: ['layers', i, ...under, ...issue.path], message: `${where}: ${issue.message}` });
    };
    if (isMoeLayer(layer)) {
      report(validateMoeLayer(layer, c.dModel));
      return;
    }
    report(mixers.get(layer.mixer).validate(layer, { dModel: c.dModel }));
    if (layer.mlp !== undefined) report(validateMlp(layer.mlp), ['mlp']);
  });
  return issues;
}

/** A mixer's entry schema with the per-layer `mlp` field added (struct entries without one of their own). */
function withLayerMlp(entry: Schema.Codec<HybridLayer, unknown>): Schema.Codec<HybridLayer, unknown> {
  const struct = entry as unknown as Partial<Schema.Struct<Schema.Struct.Fields>>;
  if (typeof struct.mapFields !== 'function' || !struct.fields || 'mlp' in struct.fields) return entry;
  return struct.mapFields((fields) => ({ ...fields, mlp: Schema.optionalKey(HybridMlp) }), {
    unsafePreserveChecks: true,
  }) as unknown as Schema.Codec<HybridLayer, unknown>;
}

/**
 * The hybrid config schema over the mixers registered NOW: `layers` is an
 * array whose entries are a union of the mixers' entry schemas (discriminated
 * by `mixer`, each with an optional per-layer `mlp`) and the `moe` layer.
 * Built on demand so that mixers registered later are accepted.
 */
export function hybridConfigSchema(): Schema.Codec<HybridConfig, unknown> {
  if (mixers.has(MOE_LAYER))
    throw new Error(`a mixer named '${MOE_LAYER}' clashes with the hybrid's own '${MOE_LAYER}' layer kind`);
  const entries = mixers.list().map((name) => withLayerMlp(mixers.get(name).configSchema));
  const kinds = [...mixers.list(), MOE_LAYER];
  const Layer = Schema.Union([...entries, HybridMoeLayer]).annotate({
    expected: `a layer { mixer: ${kinds.map((n) => JSON.stringify(n)).join(' | ')}, ... }`,
  });
  const Base = Schema.Struct({
    vocabSize: PositiveInt,
    dModel: PositiveInt,
    /** One entry per layer, in order. */
    layers: Schema.Array(Layer).check(Schema.isMinLength(1)),
    /**
     * The MLP after every mixer unless a layer sets its own: `swiglu`,
     * `gelu`, `none` (mixer-only blocks) or `{ kind: 'moe', ... }` (experts).
     */
    mlp: HybridMlp.pipe(Schema.withDecodingDefaultKey(Effect.succeed('swiglu' as const))),
    /** Hidden width of the dense MLPs (MoE experts use `expertHidden`). */
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

/**
 * The layer stack of a hybrid config. MoE MLPs use `moeSublayer` (from
 * `makeMoeFeedForward`, whose recorders collect the aux losses of a built
 * model); the default is a counting-only one.
 */
export const hybridStack = (c: HybridConfig, moeSublayer: AnyMixer = moeCounting): StackSpec => ({
  vocabSize: c.vocabSize,
  dModel: c.dModel,
  normEps: c.normEps,
  tieEmbeddings: c.tieEmbeddings,
  initStd: c.initStd,
  scaledOutputInit: c.scaledOutputInit,
  layers: c.layers.map(
    (config): StackLayer =>
      isMoeLayer(config)
        ? moeLayerStack(config, c.dModel, moeSublayer)
        : {
            mixer: mixers.get(config.mixer),
            config,
            ...mlpPart(config.mlp ?? c.mlp, c.dModel, c.mlpHidden, moeSublayer),
          },
  ),
});
