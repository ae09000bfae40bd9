import { Schema } from 'effect';

/** The probe arms (method.md §2.3, §8.4). */
export const ProbeArm = Schema.Literals(['preproj', 'preproj+skip', 'lora']);
export type ProbeArm = typeof ProbeArm.Type;

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));
const Positive = Schema.Finite.check(Schema.isGreaterThan(0));

/**
 * The frozen-probe protocol: the base stays frozen, only the new parameters
 * train (pre-projection MLP, + content skip, or LoRA adapters on q/k/v/o with
 * a rank matched to the pre-projection+skip parameter count).
 */
export const PreprojStudyConfig = Schema.Struct({
  name: Schema.String,
  arms: Schema.NonEmptyArray(ProbeArm),
  steps: PositiveInt,
  lr: Positive,
  warmupSteps: Schema.Int,
  weightDecay: Schema.Finite,
  gradClip: Schema.Finite,
  /** Pre-projection hidden width factor (paper 1.25). */
  expansion: Positive,
  /** LoRA rank; absent: matched to the pre-projection + skip parameter count. */
  loraRank: Schema.optionalKey(PositiveInt),
  /** Override the base's batch size (sequences per step; paper: 16). */
  batchSize: Schema.optionalKey(PositiveInt),
  /** Train and evaluate on this prepared corpus instead of the base's data (the paper's in-domain probe). */
  corpus: Schema.optionalKey(Schema.String),
  evalEvery: PositiveInt,
  evalBatches: PositiveInt,
  seed: Schema.Int,
});
export type PreprojStudyConfig = typeof PreprojStudyConfig.Type;

/** Named sizes: `tiny` for the test suite; `h100` a 300-step probe (the paper: 500 steps of 16 sequences). */
export const PREPROJ_SIZES: Readonly<Record<string, PreprojStudyConfig>> = {
  tiny: {
    name: 'preproj-tiny',
    arms: ['preproj', 'preproj+skip', 'lora'],
    steps: 12,
    lr: 3e-3,
    warmupSteps: 2,
    weightDecay: 0,
    gradClip: 1,
    expansion: 1.25,
    evalEvery: 6,
    evalBatches: 2,
    seed: 0,
  },
  h100: {
    name: 'preproj-h100',
    arms: ['preproj', 'preproj+skip', 'lora'],
    steps: 300,
    lr: 1e-3,
    warmupSteps: 30,
    weightDecay: 0,
    gradClip: 1,
    expansion: 1.25,
    batchSize: 16,
    evalEvery: 50,
    evalBatches: 16,
    seed: 0,
  },
};
