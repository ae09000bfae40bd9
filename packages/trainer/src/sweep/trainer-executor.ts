import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cause, Effect, Exit, type Layer } from 'effect';
import { listCheckpoints } from '../checkpoint/checkpoint-io.js';
import type { MetricsSinkShape } from '../metrics/MetricsSink.js';
import type { EvalRecord, MetricRecord } from '../metrics/records.js';
import type { Architectures } from '../model/Architectures.js';
import { runTraining } from '../run.js';
import type { RunContext, RunExecutor, RunOutcome } from './executor.js';
import type { PlannedRun } from './grid.js';

/** Folder (under the run's root) the trainer writes into, shared by all attempts so they can resume. */
export const TRAIN_DIR = 'train';

export interface TrainerExecutorOptions {
  /** The architecture registry runs build from. */
  readonly architectures: Layer.Layer<Architectures>;
  /** Log every Nth train record as a progress line. Default 50. */
  readonly logEvery?: number;
}

/** Live progress lines for the sweep's log, and the eval records for the outcome. */
const progressSink = (context: RunContext, evals: EvalRecord[], every: number): MetricsSinkShape => ({
  write: (record: MetricRecord) =>
    Effect.sync(() => {
      if (record.type === 'eval') {
        evals.push(record);
        context.log(
          `eval step ${record.step}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)}`,
        );
      } else if (record.type === 'train' && record.step % every === 0) {
        context.log(`step ${record.step}: loss ${record.loss.toFixed(4)}`);
      }
    }),
});

/** Final and best-eval metrics of a finished training run. */
const outcomeOf = (
  summary: Effect.Success<ReturnType<typeof runTraining>>,
  evals: readonly EvalRecord[],
): RunOutcome => {
  const best = evals.reduce<EvalRecord | null>((b, e) => (b === null || e.loss < b.loss ? e : b), null);
  const bestAccuracy = evals.reduce((m, e) => Math.max(m, e.accuracy), Number.NEGATIVE_INFINITY);
  const metrics: Record<string, number> = {
    steps: summary.steps,
    parameters: summary.parameters,
    tokensPerSec: summary.tokensPerSec,
    seconds: summary.elapsedMs / 1000,
    skippedSteps: summary.skippedSteps,
  };
  if (summary.finalEval) {
    metrics['evalLoss'] = summary.finalEval.loss;
    metrics['evalPerplexity'] = summary.finalEval.perplexity;
    metrics['evalAccuracy'] = summary.finalEval.accuracy;
  }
  if (best) {
    metrics['bestEvalLoss'] = best.loss;
    metrics['bestEvalStep'] = best.step;
  }
  if (evals.length > 0) metrics['bestEvalAccuracy'] = bestAccuracy;
  return {
    metrics,
    details: {
      runDir: summary.runDir,
      lastCheckpoint: summary.lastCheckpoint,
      device: summary.device,
      reason: summary.reason,
    },
  };
};

/**
 * Runs each run in-process with the trainer (`runTraining`), the run's
 * resolved config being a trainer run config. All attempts of a run share
 * `<runRoot>/train`: an attempt after a crash resumes from the last
 * checkpoint instead of starting over (a crash before the first checkpoint
 * starts clean). Aborting interrupts the training loop.
 */
export const trainerExecutor = (options: TrainerExecutorOptions): RunExecutor => ({
  name: 'trainer',
  async execute(run: PlannedRun, context: RunContext): Promise<RunOutcome> {
    const trainDir = join(context.runRoot, TRAIN_DIR);
    const checkpoints = await Effect.runPromise(listCheckpoints(join(trainDir, 'checkpoints')));
    if (checkpoints.length === 0) rmSync(trainDir, { recursive: true, force: true });
    mkdirSync(context.runDir, { recursive: true });
    const configFile = join(context.runDir, 'run-config.json');
    writeFileSync(configFile, `${JSON.stringify(run.config, null, 2)}\n`);
    const evals: EvalRecord[] = [];
    const sinks = [progressSink(context, evals, options.logEvery ?? 50)];
    const request =
      checkpoints.length > 0
        ? { resume: trainDir, progress: false, sinks }
        : { configFile, runDir: trainDir, progress: false, sinks };
    if (checkpoints.length > 0) context.log(`resuming from ${checkpoints[checkpoints.length - 1]!.path}`);
    const exit = await Effect.runPromiseExit(
      runTraining(request).pipe(Effect.provide(options.architectures)),
      {
        signal: context.signal,
      },
    );
    if (Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause);
      throw new Error(
        error._tag === 'Some' && error.value instanceof Error
          ? error.value.message
          : Cause.pretty(exit.cause),
      );
    }
    return outcomeOf(exit.value, evals);
  },
});
