import { Effect, Schema } from 'effect';
import { convSpec } from '../blocks/dsc-config.js';
import { defaultMlpHidden, type MlpSpec } from '../blocks/mlp-spec.js';
import type { StackSpec } from '../blocks/stack.js';
import { type ConfigIssue, crossFieldCheck, PositiveInt, PositiveNumber } from '../config.js';
import {
  type AttentionMixerConfig,
  attentionFields,
  attentionMixer,
  validateAttention,
} from '../mixers/attention/index.js';

/** Where the short convolutions go. */
export const ConvPlacement = Schema.Literals(['none', 'static-qkv', 'dynamic-qkv', 'dynamic-all-linear']);
export type ConvPlacement = typeof ConvPlacement.Type;

const fields = {
  vocabSize: PositiveInt,
  dModel: PositiveInt,
  nLayers: PositiveInt,
  ...attentionFields,
  mlp: Schema.Literals(['swiglu', 'gelu']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('swiglu' as const)),
  ),
  /** Default ⌈8·dModel/3⌉ rounded up to a multiple of 64 (dModel 1024 → 2752). */
  mlpHidden: Schema.optionalKey(PositiveInt),
  tieEmbeddings: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  normEps: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-6))),
  initStd: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.02))),
  /** Scale the init of o_proj/down_proj by 1/√(2·nLayers) (GPT-2). */
  scaledOutputInit: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  /**
   * `static-qkv`: residual static convs on q, k, v. `dynamic-qkv`: DSC on q, k, v
   * (generator input = the normed block input, fused into the QKV matmul).
   * `dynamic-all-linear`: DSC on the output of every linear layer (q, k, v, o,
   * gate, up, down), each reading that layer's input as generator input.
   */
  conv: ConvPlacement.pipe(Schema.withDecodingDefaultKey(Effect.succeed('none' as const))),
};

/** The attention part of a transformer config, as an `attention` mixer entry. */
export const attentionEntry = (c: TransformerConfig): AttentionMixerConfig => ({
  mixer: 'attention',
  nHeads: c.nHeads,
  ...(c.nKvHeads !== undefined ? { nKvHeads: c.nKvHeads } : {}),
  ...(c.headDim !== undefined ? { headDim: c.headDim } : {}),
  qkNorm: c.qkNorm,
  ropeTheta: c.ropeTheta,
  rotaryFraction: c.rotaryFraction,
  dsc: c.dsc,
  preProjection: c.preProjection,
  preProjectionExpansion: c.preProjectionExpansion,
  conv: c.conv === 'dynamic-all-linear' ? 'dynamic-qkvo' : c.conv,
});

export const mlpHidden = (c: Pick<TransformerConfig, 'dModel' | 'mlpHidden'>): number =>
  c.mlpHidden ?? defaultMlpHidden(c.dModel);

/** The MLP of every layer (with DSC on gate/up/down under `dynamic-all-linear`). */
export function transformerMlp(c: TransformerConfig): MlpSpec {
  const hidden = mlpHidden(c);
  if (c.conv !== 'dynamic-all-linear') return { kind: c.mlp, hidden };
  const spec = convSpec(c.dsc, 'dynamic');
  return {
    kind: c.mlp,
    hidden,
    convs: c.mlp === 'swiglu' ? { gate: spec, up: spec, down: spec } : { up: spec, down: spec },
  };
}

/** Cross-field problems, each with its path in the config. */
export function validateTransformer(c: TransformerConfig): ConfigIssue[] {
  const issues = validateAttention(attentionEntry(c), c.dModel);
  if (c.conv === 'dynamic-all-linear' && c.dsc.variant === 'head-wise' && mlpHidden(c) % c.dsc.headSize !== 0)
    issues.push({
      path: ['dsc', 'headSize'],
      message: `head size ${c.dsc.headSize} does not divide the MLP hidden width ${mlpHidden(c)}`,
    });
  return issues;
}

const Base = Schema.Struct(fields);

/** Transformer config: Llama-style pre-norm decoder with the DSC / pre-projection options. */
export const TransformerConfig = Base.check(crossFieldCheck<typeof Base.Type>((c) => validateTransformer(c)));
export type TransformerConfig = typeof Base.Type;

/** The layer stack this config describes. */
export const transformerStack = (c: TransformerConfig): StackSpec => {
  const entry = attentionEntry(c);
  const mlp = transformerMlp(c);
  return {
    vocabSize: c.vocabSize,
    dModel: c.dModel,
    normEps: c.normEps,
    tieEmbeddings: c.tieEmbeddings,
    initStd: c.initStd,
    scaledOutputInit: c.scaledOutputInit,
    layers: Array.from({ length: c.nLayers }, () => ({ mixer: attentionMixer, config: entry, mlp })),
  };
};
