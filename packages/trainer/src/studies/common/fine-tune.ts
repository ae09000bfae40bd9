import { type Backend, crossEntropy, type Tensor, tensor, tidy } from '@dynconv/tensor';
import type { ScheduleConfig } from '../../config/schema.js';
import type { TrainBatch, TrainDataShape } from '../../data/TrainData.js';
import type { ModelV1 } from '../../model/spec.js';
import { AdamW, type AdamWUpdate } from '../../optim/adamw.js';
import { clipScale, globalGradNorm } from '../../optim/clip.js';
import { paramGroups } from '../../optim/param-groups.js';
import { learningRate } from '../../optim/schedule.js';
import { type EvalResult, evaluate } from '../../train/evaluate.js';
import { batchInput } from '../../train/step.js';

/** Hooks around backward for parameters that are not trained directly (LoRA). */
export interface GradientHooks {
  /** Before each forward (e.g. merge adapters into the weights). */
  beforeForward(): void;
  /** After backward, before the optimizer reads gradients. */
  afterBackward(): void;
}

export interface FineTuneOptions {
  readonly model: ModelV1;
  /** What the optimizer updates; everything else stays as it is. */
  readonly trainable: ReadonlyMap<string, Tensor>;
  readonly data: TrainDataShape;
  readonly backend: Backend;
  readonly steps: number;
  readonly lr: number;
  readonly schedule: ScheduleConfig;
  readonly weightDecay: number;
  readonly gradClip: number;
  readonly withDocStart: boolean;
  readonly evalBatches: readonly TrainBatch[];
  /** Evaluate every N steps (and at the end). */
  readonly evalEvery: number;
  readonly adamwUpdate?: AdamWUpdate;
  readonly hooks?: GradientHooks;
  readonly onEval?: (step: number, result: EvalResult) => void;
}

/** The loss curve and final evaluation of a fine-tune. */
export interface FineTuneResult {
  readonly evals: ReadonlyArray<{ readonly step: number } & EvalResult>;
  readonly final: EvalResult;
  readonly trainLosses: readonly number[];
  readonly seconds: number;
}

/**
 * A plain training loop over a subset of a model's parameters (frozen-base
 * probes): AdamW with the trainer's schedule, gradient clipping, skipped
 * non-finite steps, periodic evaluation with the trainer's `evaluate`.
 */
export const fineTune = async (o: FineTuneOptions): Promise<FineTuneResult> => {
  const started = Date.now();
  const groups = paramGroups(o.trainable, o.model.noDecay, o.weightDecay);
  const optimizer = new AdamW(o.trainable, groups, { beta1: 0.9, beta2: 0.999, eps: 1e-8 }, o.adamwUpdate);
  const evals: Array<{ step: number } & EvalResult> = [];
  const trainLosses: number[] = [];
  const runEval = async (step: number) => {
    o.hooks?.beforeForward();
    const result = await evaluate(o.model, o.evalBatches, o.backend, o.withDocStart);
    evals.push({ step, ...result });
    o.onEval?.(step, result);
    return result;
  };
  try {
    await runEval(0);
    for (let step = 1; step <= o.steps; step++) {
      const batch = o.data.next();
      o.hooks?.beforeForward();
      const loss = tidy(() => {
        const targets = tensor(batch.targets, {
          shape: [batch.batchSize, batch.seqLen],
          dtype: 'i32',
          backend: o.backend,
        });
        const ce = crossEntropy(
          o.model.forward(batchInput(batch, o.backend, o.withDocStart), { training: true }),
          targets,
        );
        ce.backward();
        return ce.detach();
      });
      o.hooks?.afterBackward();
      const norm = globalGradNorm(o.trainable.values());
      const [lossValue, gradNorm] = [await loss.item(), await norm.item()];
      loss.dispose();
      norm.dispose();
      trainLosses.push(lossValue);
      if (Number.isFinite(lossValue) && Number.isFinite(gradNorm))
        optimizer.step(learningRate(o.schedule, o.lr, step, o.steps), clipScale(gradNorm, o.gradClip));
      for (const p of o.trainable.values()) p.zeroGrad();
      if (step % o.evalEvery === 0 && step !== o.steps) await runEval(step);
    }
    const final = await runEval(o.steps);
    return { evals, final, trainLosses, seconds: (Date.now() - started) / 1000 };
  } finally {
    optimizer.dispose();
  }
};
