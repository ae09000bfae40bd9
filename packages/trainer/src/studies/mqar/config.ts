import { Schema } from 'effect';

/** The sequence-mixer variants the MQAR study compares (method.md §8.2). */
export const MqarVariant = Schema.Literals(['none', 'static-qkv', 'dynamic-low-rank', 'dynamic-head-wise']);
export type MqarVariant = typeof MqarVariant.Type;

/** The recall tasks (method.md §5.1, §5.4). */
export const MqarTask = Schema.Literals(['mqar', 'mqar-compositional', 'mqar-variable-keys']);
export type MqarTask = typeof MqarTask.Type;

const Positive = Schema.Finite.check(Schema.isGreaterThan(0));
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));

/**
 * Everything the MQAR study sweeps and holds fixed. The model is the Zoology
 * recipe's sequence-mixer-only stack: `layers` attention layers, no MLP,
 * RoPE on a `rotaryFraction` (0, 1] of each head. One attention layer cannot
 * bind a key to the value after it with or without positions (the match has
 * to happen first), which is what makes 1-layer models discriminate the
 * convolutions (method.md §8.2).
 */
export const MqarStudyConfig = Schema.Struct({
  name: Schema.String,
  variants: Schema.NonEmptyArray(MqarVariant),
  tasks: Schema.NonEmptyArray(MqarTask),
  dModels: Schema.NonEmptyArray(PositiveInt),
  /** (sequence length, key-value pairs). A task that needs longer sequences for N pairs gets the minimum it needs. */
  settings: Schema.NonEmptyArray(Schema.Struct({ seqLen: PositiveInt, numKvPairs: PositiveInt })),
  /** Each cell reports the best of these learning rates (Zoology reports the max over its LR sweep). */
  lrs: Schema.NonEmptyArray(Positive),
  seeds: Schema.NonEmptyArray(Schema.Int),
  layers: PositiveInt,
  nHeads: PositiveInt,
  rotaryFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true })),
  /** DSC settings (method.md §1: R = 16, W = 4; head size for the head-wise generator). */
  dsc: Schema.Struct({ rank: PositiveInt, width: PositiveInt, headSize: PositiveInt }),
  vocabSize: PositiveInt,
  steps: PositiveInt,
  batchSize: PositiveInt,
  trainExamples: PositiveInt,
  evalExamples: PositiveInt,
  evalEvery: PositiveInt,
  weightDecay: Schema.Finite,
  warmupFraction: Schema.Finite,
  device: Schema.Literals(['auto', 'cpu', 'webgpu']),
});
export type MqarStudyConfig = typeof MqarStudyConfig.Type;

const ALL_VARIANTS: MqarStudyConfig['variants'] = [
  'none',
  'static-qkv',
  'dynamic-low-rank',
  'dynamic-head-wise',
];
const ALL_TASKS: MqarStudyConfig['tasks'] = ['mqar', 'mqar-compositional', 'mqar-variable-keys'];

/**
 * Named sizes. `tiny` is the test-suite size (a minute on two CPU cores:
 * it proves the pipeline, not the science). `cpu` is a few hours on a
 * laptop. `h100` is the device run of docs/results (96 runs of 1,000 steps:
 * 1-layer models, d 64 and 128, (T, N) = (128, 16) and (256, 32), two
 * learning rates; about 20 minutes with 12 processes, resumable across calls).
 */
export const MQAR_SIZES: Readonly<Record<string, MqarStudyConfig>> = {
  tiny: {
    name: 'mqar-tiny',
    variants: ALL_VARIANTS,
    tasks: ALL_TASKS,
    dModels: [16],
    settings: [{ seqLen: 32, numKvPairs: 4 }],
    lrs: [3e-3, 1e-2],
    seeds: [0],
    layers: 1,
    nHeads: 1,
    rotaryFraction: 1,
    dsc: { rank: 4, width: 4, headSize: 8 },
    vocabSize: 96,
    steps: 20,
    batchSize: 8,
    trainExamples: 2048,
    evalExamples: 32,
    evalEvery: 10,
    weightDecay: 0.1,
    warmupFraction: 0.05,
    device: 'cpu',
  },
  cpu: {
    name: 'mqar-cpu',
    variants: ALL_VARIANTS,
    tasks: ALL_TASKS,
    dModels: [32, 64],
    settings: [{ seqLen: 64, numKvPairs: 4 }],
    lrs: [1e-3, 3e-3, 1e-2],
    seeds: [0],
    layers: 1,
    nHeads: 1,
    rotaryFraction: 1,
    dsc: { rank: 16, width: 4, headSize: 16 },
    vocabSize: 256,
    steps: 1500,
    batchSize: 64,
    trainExamples: 100_000,
    evalExamples: 512,
    evalEvery: 250,
    weightDecay: 0.1,
    warmupFraction: 0.05,
    device: 'cpu',
  },
  h100: {
    name: 'mqar-h100',
    variants: ALL_VARIANTS,
    tasks: ALL_TASKS,
    dModels: [64, 128],
    settings: [
      { seqLen: 128, numKvPairs: 16 },
      { seqLen: 256, numKvPairs: 32 },
    ],
    lrs: [1e-3, 3e-3],
    seeds: [0],
    layers: 1,
    nHeads: 1,
    rotaryFraction: 1,
    dsc: { rank: 16, width: 4, headSize: 16 },
    vocabSize: 1024,
    steps: 1000,
    batchSize: 128,
    trainExamples: 100_000,
    evalExamples: 1024,
    evalEvery: 250,
    weightDecay: 0.1,
    warmupFraction: 0.05,
    device: 'auto',
  },
};
