import { Effect, Schema } from 'effect';
import { PositiveInt, PositiveNumber } from '../config.js';
import type { AnyMixer } from '../mixers/types.js';
import { defaultMlpHidden } from './mlp-spec.js';
import type { StackSpec } from './stack.js';

/**
 * Language-model fields shared by the single-mixer plugins (`mamba2`,
 * `gated-deltanet`, `gla`): every layer uses the same mixer, followed by an
 * MLP unless `mlp` is `none`.
 */
export const uniformStackFields = (defaultMlp: 'swiglu' | 'gelu' | 'none') => ({
  vocabSize: PositiveInt,
  dModel: PositiveInt,
  nLayers: PositiveInt,
  /** The MLP after every mixer (`none`: mixer-only blocks, as in pure Mamba-2 models). */
  mlp: Schema.Literals(['swiglu', 'gelu', 'none']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(defaultMlp)),
  ),
  /** Default ⌈8·dModel/3⌉ rounded up to a multiple of 64. */
  mlpHidden: Schema.optionalKey(PositiveInt),
  tieEmbeddings: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  normEps: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-6))),
  initStd: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.02))),
  /** Scale the init of out_proj/o_proj/down_proj by 1/√(2·nLayers) (GPT-2). */
  scaledOutputInit: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
});

export interface UniformStackConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly nLayers: number;
  readonly mlp: 'swiglu' | 'gelu' | 'none';
  readonly mlpHidden?: number;
  readonly tieEmbeddings: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly scaledOutputInit: boolean;
}

/** `nLayers` blocks of `mixer` (configured by `entry`), each followed by the configured MLP. */
export function uniformStack(
  c: UniformStackConfig,
  mixer: AnyMixer,
  entry: { readonly mixer: string },
): StackSpec {
  const mlp = c.mlp === 'none' ? null : { kind: c.mlp, hidden: c.mlpHidden ?? defaultMlpHidden(c.dModel) };
  return {
    vocabSize: c.vocabSize,
    dModel: c.dModel,
    normEps: c.normEps,
    tieEmbeddings: c.tieEmbeddings,
    initStd: c.initStd,
    scaledOutputInit: c.scaledOutputInit,
    layers: Array.from({ length: c.nLayers }, () => ({ mixer, config: entry, mlp })),
  };
}
