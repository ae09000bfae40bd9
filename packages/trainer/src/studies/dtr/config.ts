import { Schema } from 'effect';

/** The linear replacement modules (method.md §3.1, §4.2, §4.2b). */
export const LinearMixer = Schema.Literals(['gated-deltanet', 'gla']);
export type LinearMixer = typeof LinearMixer.Type;

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));
const Positive = Schema.Finite.check(Schema.isGreaterThan(0));

export const DtrStudyConfig = Schema.Struct({
  name: Schema.String,
  mixer: LinearMixer,
  /** Copy the attention q/k/v/o weights into the linear module before distilling (method.md §3.1 [EST]). */
  warmStart: Schema.Boolean,
  /** Blockwise local distillation: steps, LR, batch (default: the teacher's batch). */
  distillSteps: PositiveInt,
  distillLr: Positive,
  distillBatchSize: Schema.optionalKey(PositiveInt),
  /** Validation metric: `accuracy` (MQAR recall / token accuracy) or `loss` (scored as −loss). */
  metric: Schema.Literals(['accuracy', 'loss']),
  /** P_min = the full model's validation score lowered by this relative amount (paper: 5%). */
  maxRelativeDrop: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
  /** Held-out batches, split alternately into validation (search) and test (report). At least 2. */
  evalBatches: PositiveInt,
  /** Synthetic tasks: examples in the held-out set (overrides the teacher's `data.evalExamples`). */
  evalExamples: Schema.optionalKey(PositiveInt),
  /** Random-replacement baseline draws per count. */
  randomDraws: PositiveInt,
  /** Decode benchmark: sequences, context (prefill) length, generated tokens, repetitions. */
  decode: Schema.Struct({
    batch: PositiveInt,
    context: PositiveInt,
    tokens: PositiveInt,
    repeats: PositiveInt,
  }),
  seed: Schema.Int,
});
export type DtrStudyConfig = typeof DtrStudyConfig.Type;

export const DTR_SIZES: Readonly<Record<string, DtrStudyConfig>> = {
  tiny: {
    name: 'dtr-tiny',
    mixer: 'gated-deltanet',
    warmStart: true,
    distillSteps: 20,
    distillLr: 3e-3,
    metric: 'accuracy',
    maxRelativeDrop: 0.05,
    evalBatches: 4,
    randomDraws: 2,
    decode: { batch: 1, context: 16, tokens: 8, repeats: 1 },
    seed: 0,
  },
  h100: {
    name: 'dtr-h100',
    mixer: 'gated-deltanet',
    warmStart: true,
    distillSteps: 600,
    distillLr: 1e-3,
    metric: 'accuracy',
    maxRelativeDrop: 0.05,
    evalBatches: 16,
    randomDraws: 4,
    decode: { batch: 1, context: 1024, tokens: 64, repeats: 2 },
    seed: 0,
  },
};
