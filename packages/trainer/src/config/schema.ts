import { Effect, Schema } from 'effect';

/**
 * The run config: everything that determines a training run. Decoded from
 * JSON (or a TypeScript module's default export) with every default filled
 * in; the resolved value is written to `<runDir>/config.json`.
 *
 * Defaults are attached with `Schema.withDecodingDefaultKey` inline (a generic
 * wrapper would lose the field types).
 */

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0));
const Positive = Schema.Finite.check(Schema.isGreaterThan(0));
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0));
const Fraction = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }));
const OpenFraction = Schema.Finite.check(
  Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true }),
);

/** Which architecture plugin to build and its (plugin-validated) config. */
export const ModelSection = Schema.Struct({
  /** Registry name, e.g. `transformer`. */
  architecture: Schema.String,
  /** The plugin's config; decoded by the plugin's own `configSchema`. */
  config: Schema.Unknown.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
});

const mqarCommon = {
  /** Token vocabulary of the task (must exceed `batch.seqLen`). */
  vocabSize: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(128))),
  /** Key-value pairs per sequence. */
  numKvPairs: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(4))),
  /** Power-law exponent of the query gaps (Zoology: 0.01). */
  powerA: Positive.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.01))),
  /** Fill non-query positions with random tokens instead of 0 (Zoology's Figure 2 used false). */
  randomNonQueries: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  /** Training examples per epoch (generated from (seed, index) on the fly, never stored). */
  trainExamples: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(100_000))),
  /** Held-out examples in the evaluation set. */
  evalExamples: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(512))),
};

/** Multi-query associative recall generated on the fly (Zoology's MQAR). */
export const MqarData = Schema.Struct({ kind: Schema.Literal('mqar'), ...mqarCommon });

/** MQAR with two-token keys on a √N×√N grid (Zoology's compositional MQAR; N a perfect square). */
export const CompositionalMqarData = Schema.Struct({
  kind: Schema.Literal('mqar-compositional'),
  ...mqarCommon,
});

/** MQAR with delimiter-terminated keys of 1..maxKeyLength tokens drawn from a small pool. */
export const VariableKeyMqarData = Schema.Struct({
  kind: Schema.Literal('mqar-variable-keys'),
  ...mqarCommon,
  minKeyLength: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  maxKeyLength: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
});

/** A token corpus prepared by `@dynconv/data` (a folder with a manifest and Arrow shards). */
export const CorpusData = Schema.Struct({
  kind: Schema.Literal('corpus'),
  /** Folder of the prepared corpus. */
  path: Schema.String,
  /** Fraction of documents held out for evaluation. */
  validationFraction: OpenFraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.01))),
  /** Shuffle windows each epoch. */
  shuffle: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
});

export const DataSection = Schema.Union([MqarData, CompositionalMqarData, VariableKeyMqarData, CorpusData]);

export const BatchSection = Schema.Struct({
  /** Sequences per micro-batch. */
  size: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(32))),
  /** Tokens per sequence. */
  seqLen: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
  /** Micro-batches whose gradients are summed into one optimizer step. */
  gradAccumulation: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
});

export const OptimizerSection = Schema.Struct({
  /** Peak learning rate (reached after warmup). */
  lr: Positive.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3e-4))),
  beta1: OpenFraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.9))),
  beta2: OpenFraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.95))),
  eps: Positive.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-8))),
  /** Decoupled weight decay of the decay group. */
  weightDecay: NonNegative.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.1))),
  /** Global gradient-norm clip; 0 disables clipping. */
  gradClip: NonNegative.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  /**
   * Extra parameter-name patterns (regular expressions) that get no weight
   * decay, on top of the model's own `noDecay` set and every rank-1 parameter
   * (norm weights, biases).
   */
  noDecay: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
});

export const ScheduleSection = Schema.Struct({
  /**
   * Shape after the linear warmup: `cosine` (to `minLrRatio`), `linear` (to
   * `minLrRatio`), `constant`, or `wsd` (constant, then a linear decay over the
   * last `decayFraction` of the run).
   */
  kind: Schema.Literals(['cosine', 'linear', 'constant', 'wsd']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('cosine' as const)),
  ),
  warmupSteps: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(100))),
  /** Final learning rate as a fraction of the peak. */
  minLrRatio: Fraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.1))),
  /** `wsd` only: fraction of all steps spent decaying. */
  decayFraction: Fraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.2))),
});

export const EvalSection = Schema.Struct({
  /** Evaluate every N optimizer steps (and after the last); 0 only at the end. */
  every: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(100))),
  /** Evaluation batches (of `batch.size` sequences); MQAR uses its whole eval set when smaller. */
  batches: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
});

export const CheckpointSection = Schema.Struct({
  /** Write a checkpoint every N steps (and at the end); 0 only at the end. */
  every: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(500))),
  /** How many recent checkpoints to keep (the best one is kept in addition). */
  keepLast: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
  /** Also keep the checkpoint with the lowest eval loss. */
  keepBest: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
});

export const LossScaleSection = Schema.Struct({
  /** First loss scale of a mixed-precision run (PyTorch's GradScaler default). */
  initial: Positive.pipe(Schema.withDecodingDefaultKey(Effect.succeed(65536))),
  /** Finite steps in a row before the scale doubles; it halves on every overflow (skipped step). */
  growthInterval: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2000))),
});

export const RunConfig = Schema.Struct({
  /** Run name (shown in reports). */
  name: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed('run'))),
  /** Seeds model init, data order and every random draw. */
  seed: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  /** `auto` picks a real GPU when present, else the faster of CPU and software WebGPU. */
  device: Schema.Literals(['auto', 'cpu', 'webgpu']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('auto' as const)),
  ),
  /**
   * `f32` everywhere, or `mixed` (WebGPU only): matmuls on f16 tensor cores
   * with f32 accumulation, f32 master weights and optimizer state, dynamic
   * loss scaling with overflow skip (`lossScale`).
   */
  precision: Schema.Literals(['f32', 'mixed']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('f32' as const)),
  ),
  lossScale: LossScaleSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  /** Optimizer steps. */
  steps: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))),
  model: ModelSection,
  data: DataSection,
  batch: BatchSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  optimizer: OptimizerSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  schedule: ScheduleSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  eval: EvalSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  checkpoint: CheckpointSection.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  /** Stop after this many optimizer steps in a row were skipped for non-finite values. */
  nanPatience: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(5))),
  /** Progress line / JSONL train record every N steps. */
  logEvery: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))),
});

/** A decoded run config (all defaults filled). */
export type RunConfig = typeof RunConfig.Type;
export type DataConfig = typeof DataSection.Type;
export type SyntheticDataConfig =
  | typeof MqarData.Type
  | typeof CompositionalMqarData.Type
  | typeof VariableKeyMqarData.Type;
export type CorpusDataConfig = typeof CorpusData.Type;
export type OptimizerConfig = typeof OptimizerSection.Type;
export type ScheduleConfig = typeof ScheduleSection.Type;
