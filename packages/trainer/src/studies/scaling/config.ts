import { Schema } from 'effect';

/** Architectures of the ladder; each variant is compared with its `baseline` (method.md §6, §8.3). */
export const ScalingVariant = Schema.Literals([
  'baseline',
  'static-qkv',
  'dsc-qkv',
  'dsc-all-linear',
  'gdn-static',
  'gdn-dynamic',
  'mamba2-static',
  'mamba2-dynamic',
]);
export type ScalingVariant = typeof ScalingVariant.Type;

/** Which variant each one is measured against (the compute multiplier's denominator). */
export const BASELINE_OF: Readonly<Record<ScalingVariant, ScalingVariant | null>> = {
  baseline: null,
  'static-qkv': 'baseline',
  'dsc-qkv': 'baseline',
  'dsc-all-linear': 'baseline',
  'gdn-static': null,
  'gdn-dynamic': 'gdn-static',
  'mamba2-static': null,
  'mamba2-dynamic': 'mamba2-static',
};

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));
const Positive = Schema.Finite.check(Schema.isGreaterThan(0));

/** One rung of the ladder (every architecture is built at each rung's width and depth). */
export const Rung = Schema.Struct({
  dModel: PositiveInt,
  nLayers: PositiveInt,
  nHeads: PositiveInt,
  lr: Positive,
});
export type Rung = typeof Rung.Type;

export const ScalingStudyConfig = Schema.Struct({
  name: Schema.String,
  /** Prepared corpus folder (`dynconv prepare`); required. */
  corpus: Schema.String,
  variants: Schema.NonEmptyArray(ScalingVariant),
  /** At least 4 rungs, so the 3-parameter law is over-determined. */
  rungs: Schema.Array(Rung).check(Schema.isMinLength(4)),
  /** Training tokens = this × non-embedding parameters (Chinchilla ≈ 20, the DSC paper ≈ 50). */
  tokensPerParameter: Positive,
  seqLen: PositiveInt,
  batchSize: PositiveInt,
  seeds: Schema.NonEmptyArray(Schema.Int),
  evalBatches: PositiveInt,
  weightDecay: Schema.Finite,
  warmupFraction: Schema.Finite,
  /** DSC rank / width for the dynamic variants. */
  dsc: Schema.Struct({ rank: PositiveInt, width: PositiveInt }),
  bootstrapSamples: PositiveInt,
  device: Schema.Literals(['auto', 'cpu', 'webgpu']),
});
export type ScalingStudyConfig = typeof ScalingStudyConfig.Type;

const TRANSFORMER_VARIANTS: ScalingStudyConfig['variants'] = [
  'baseline',
  'static-qkv',
  'dsc-qkv',
  'dsc-all-linear',
];

/**
 * Named sizes (the corpus always comes from the command line). `tiny` proves
 * the pipeline in the test suite. `h100` is a 4-rung ladder from ~0.2M to
 * ~1.8M non-embedding parameters at 10 tokens/parameter (method.md §6's
 * small-scale recipe shrunk to fit a 10-minute device command).
 */
export const SCALING_SIZES: Readonly<Record<string, Omit<ScalingStudyConfig, 'corpus'>>> = {
  tiny: {
    name: 'scaling-tiny',
    variants: TRANSFORMER_VARIANTS,
    rungs: [
      { dModel: 8, nLayers: 1, nHeads: 1, lr: 1e-2 },
      { dModel: 12, nLayers: 1, nHeads: 1, lr: 1e-2 },
      { dModel: 16, nLayers: 1, nHeads: 1, lr: 1e-2 },
      { dModel: 16, nLayers: 2, nHeads: 1, lr: 1e-2 },
    ],
    tokensPerParameter: 1,
    seqLen: 16,
    batchSize: 8,
    seeds: [0],
    evalBatches: 2,
    weightDecay: 0.1,
    warmupFraction: 0.1,
    dsc: { rank: 4, width: 4 },
    bootstrapSamples: 200,
    device: 'cpu',
  },
  cpu: {
    name: 'scaling-cpu',
    variants: TRANSFORMER_VARIANTS,
    rungs: [
      { dModel: 32, nLayers: 2, nHeads: 2, lr: 3e-3 },
      { dModel: 48, nLayers: 2, nHeads: 2, lr: 3e-3 },
      { dModel: 64, nLayers: 3, nHeads: 2, lr: 2e-3 },
      { dModel: 96, nLayers: 3, nHeads: 3, lr: 2e-3 },
    ],
    tokensPerParameter: 20,
    seqLen: 128,
    batchSize: 16,
    seeds: [0],
    evalBatches: 16,
    weightDecay: 0.1,
    warmupFraction: 0.1,
    dsc: { rank: 16, width: 4 },
    bootstrapSamples: 1000,
    device: 'cpu',
  },
  h100: {
    name: 'scaling-h100',
    variants: TRANSFORMER_VARIANTS,
    rungs: [
      { dModel: 96, nLayers: 2, nHeads: 3, lr: 3e-3 },
      { dModel: 128, nLayers: 2, nHeads: 4, lr: 2e-3 },
      { dModel: 160, nLayers: 3, nHeads: 5, lr: 2e-3 },
      { dModel: 192, nLayers: 4, nHeads: 6, lr: 1.5e-3 },
    ],
    tokensPerParameter: 10,
    seqLen: 256,
    batchSize: 64,
    seeds: [0],
    evalBatches: 16,
    weightDecay: 0.1,
    warmupFraction: 0.1,
    dsc: { rank: 16, width: 4 },
    bootstrapSamples: 1000,
    device: 'auto',
  },
};
