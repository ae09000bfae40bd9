import { manualSeed, noGrad, tidy } from '@dynconv/tensor';
import { Clock, Effect, Ref } from 'effect';
import { CheckpointStore } from '../checkpoint/CheckpointStore.js';
import type { LoadedCheckpoint } from '../checkpoint/checkpoint-io.js';
import { TrainData } from '../data/TrainData.js';
import { Device } from '../device/Device.js';
import { ModelError, TrainingDiverged } from '../errors.js';
import { MetricsSink } from '../metrics/MetricsSink.js';
import type { EvalRecord } from '../metrics/records.js';
import { Model } from '../model/Model.js';
import { Optimizer } from '../optim/Optimizer.js';
import { learningRate } from '../optim/schedule.js';
import { deviceStepControl } from './device-control.js';
import { evaluate } from './evaluate.js';
import { RunContext } from './RunContext.js';
import { ensureFreshRunDir, writeRunFiles } from './run-dir.js';
import { freshProgress, type Progress, restore, snapshot } from './snapshot.js';
import { batchInput, type PendingStep, recordTrainStep } from './step.js';

/** How a run ended. */
export interface TrainSummary {
  readonly runDir: string;
  readonly steps: number;
  readonly reason: 'completed' | 'stopped';
  readonly finalEval: {
    readonly loss: number;
    readonly perplexity: number;
    readonly accuracy: number;
  } | null;
  readonly lastCheckpoint: string | null;
  readonly elapsedMs: number;
  readonly tokensPerSec: number;
  readonly skippedSteps: number;
  readonly parameters: number;
  readonly device: string;
  /** `recall`: accuracy is over MQAR queries; `lm`: over all tokens. */
  readonly task: 'recall' | 'lm';
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Continue from this checkpoint (already read and verified). */
  readonly resumeFrom?: LoadedCheckpoint | undefined;
  /**
   * Stop after this step with a checkpoint (the run's schedule still spans
   * `config.steps`, so resuming continues the same curve).
   */
  readonly stopAt?: number | undefined;
}

/**
 * Runs (or continues) the training loop of the run in `RunContext`, using the
 * model, optimizer, data, checkpoint store and metrics sinks from the context.
 *
 * Each step, evaluation and checkpoint is uninterruptible; an interruption
 * (Ctrl-C through `NodeRuntime.runMain`) lands between them, writes a
 * checkpoint of the last completed step and ends the run.
 */
export const train = (options: TrainOptions = {}) =>
  Effect.gen(function* () {
    const ctx = yield* RunContext;
    const device = yield* Device;
    const model = yield* Model;
    const data = yield* TrainData;
    const { adamw } = yield* Optimizer;
    const store = yield* CheckpointStore;
    const sink = yield* MetricsSink;
    const { config } = ctx;
    const backend = device.backend;
    const withDocStart = data.task === 'lm';

    yield* checkVocabulary(model, data.vocabSize, data.seqLen, backend, withDocStart);

    manualSeed(config.seed);
    if (!options.resumeFrom) yield* ensureFreshRunDir(ctx.runDir);
    const progress: Progress = options.resumeFrom
      ? yield* restore(options.resumeFrom, ctx, model, adamw, data)
      : freshProgress();
    // Only now, with everything validated, touch the run folder.
    yield* writeRunFiles(ctx, progress.step);
    const progressRef = yield* Ref.make(progress);
    const startStep = progress.step;
    const tokensPerStep = config.batch.size * config.batch.seqLen * config.batch.gradAccumulation;
    const clockStart = (yield* Clock.currentTimeMillis) - progress.elapsedMs;
    const now = Effect.map(Clock.currentTimeMillis, (t) => t - clockStart);
    let lastCheckpoint: string | null = options.resumeFrom?.path ?? null;
    let lastSavedStep = options.resumeFrom ? progress.step : -1;
    let finalEval: TrainSummary['finalEval'] = null;
    // Throughput window: tokens and pure step time since the last train record.
    let windowTokens = 0;
    let windowMs = 0;
    let windowLoss = 0;
    let windowSteps = 0;
    let sessionTokens = 0;
    let sessionMs = 0;

    yield* sink.write({
      type: 'start',
      time: new Date().toISOString(),
      name: config.name,
      architecture: config.model.architecture,
      parameters: model.parameterCount,
      device: device.description,
      data: data.description,
      steps: config.steps,
      tokensPerStep,
      fromStep: startStep,
    });

    const saveCheckpoint = (evalLoss?: number) =>
      Effect.gen(function* () {
        const p = yield* Ref.get(progressRef);
        if (p.step === lastSavedStep) return;
        p.elapsedMs = yield* now;
        // (Checkpoints come after every recorded step was booked: the scaler's state is this step's.)
        const scaler = control?.scaling ? yield* Effect.promise(() => control.scalerState()) : undefined;
        const content = yield* snapshot(ctx, model, adamw, data, p, scaler);
        const path = yield* store.save(content, evalLoss);
        lastCheckpoint = path;
        lastSavedStep = p.step;
        yield* sink.write({ type: 'checkpoint', step: p.step, path });
      });

    const runEval = Effect.gen(function* () {
      const p = yield* Ref.get(progressRef);
      const result = yield* Effect.promise(() =>
        evaluate(model.model, data.evalBatches(), backend, withDocStart),
      );
      const record: EvalRecord = {
        type: 'eval',
        step: p.step,
        loss: result.loss,
        perplexity: result.perplexity,
        accuracy: result.accuracy,
        elapsedMs: yield* now,
      };
      yield* sink.write(record);
      p.lastEval = { step: p.step, loss: result.loss, accuracy: result.accuracy };
      finalEval = { loss: result.loss, perplexity: result.perplexity, accuracy: result.accuracy };
      const improved =
        Number.isFinite(result.loss) && (p.bestEvalLoss === null || result.loss < p.bestEvalLoss);
      if (improved) p.bestEvalLoss = result.loss;
      return improved;
    });

    const stopAt = Math.min(config.steps, options.stopAt ?? config.steps);
    // WebGPU: clipping, the overflow skip and the loss scale are decided on the GPU, so the loop
    // records step n+1 before it reads step n's outcome (no read-back inside a step).
    const control = yield* deviceStepControl(device, config, adamw, options.resumeFrom?.state.lossScale);
    /** Recorded steps whose outcome was not read yet, oldest first (at most one with a device control). */
    const pending: { lr: number; t0: number; step: PendingStep }[] = [];
    /** When the last outcome was booked (step time runs from it while steps are in flight). */
    let lastSettled = 0;
    const evalScheduled = (step: number) => config.eval.every > 0 && step % config.eval.every === 0;
    const checkpointScheduled = (step: number) =>
      config.checkpoint.every > 0 && step % config.checkpoint.every === 0;

    const recordOne = Effect.gen(function* () {
      const p = yield* Ref.get(progressRef);
      const lr = learningRate(config.schedule, config.optimizer.lr, p.step + pending.length, config.steps);
      const batches = Array.from({ length: config.batch.gradAccumulation }, () => data.next());
      const t0 = yield* Clock.currentTimeMillis;
      const step = recordTrainStep({
        model: model.model,
        trainable: model.trainable,
        optimizer: adamw,
        backend,
        batches,
        lr,
        gradClip: config.optimizer.gradClip,
        withDocStart,
        ...(control ? { control } : {}),
      });
      pending.push({ lr, t0, step });
    });

    /** Reads the oldest recorded step's outcome and books it (skip / divergence / train record). */
    const settleOne = Effect.gen(function* () {
      const { lr, t0, step } = pending.shift()!;
      const outcome = yield* Effect.promise(() => step.outcome);
      if (outcome.stepsTaken !== undefined) adamw.syncStepCount(outcome.stepsTaken);
      const p = yield* Ref.get(progressRef);
      // Wall time from recording to outcome; with steps in flight, from the previous outcome.
      const settled = yield* Clock.currentTimeMillis;
      const stepMs = settled - Math.max(t0, lastSettled);
      lastSettled = settled;
      p.step++;
      p.tokensSeen += outcome.tokens;
      windowTokens += outcome.tokens;
      windowMs += stepMs;
      sessionTokens += outcome.tokens;
      sessionMs += stepMs;
      if (!outcome.finite) {
        p.consecutiveNonFinite++;
        p.skipped++;
        yield* sink.write({
          type: 'skip',
          step: p.step,
          loss: outcome.loss,
          gradNorm: outcome.gradNorm,
          consecutive: p.consecutiveNonFinite,
          skipped: p.skipped,
        });
        if (p.consecutiveNonFinite >= config.nanPatience) {
          yield* sink.write({
            type: 'end',
            step: p.step,
            reason: 'diverged',
            elapsedMs: yield* now,
            tokensPerSec: rate(sessionTokens, sessionMs),
          });
          return yield* new TrainingDiverged({
            step: p.step,
            consecutive: p.consecutiveNonFinite,
            skippedTotal: p.skipped,
          });
        }
        return;
      }
      p.consecutiveNonFinite = 0;
      windowLoss += outcome.loss;
      windowSteps++;
      if (p.step % config.logEvery === 0 || p.step === config.steps) {
        yield* sink.write({
          type: 'train',
          step: p.step,
          loss: windowLoss / windowSteps,
          lr,
          gradNorm: outcome.gradNorm,
          tokens: p.tokensSeen,
          tokensPerSec: rate(windowTokens, windowMs),
          elapsedMs: yield* now,
          ...(control?.scaling && outcome.lossScale !== undefined ? { lossScale: outcome.lossScale } : {}),
        });
        windowTokens = windowMs = windowLoss = windowSteps = 0;
      }
    });

    /**
     * Records the next step; then books the oldest one unless the next step can
     * still be recorded ahead (a device control, and no eval, checkpoint or end
     * due after the recorded ones).
     */
    const oneStep = Effect.gen(function* () {
      yield* recordOne;
      const p = yield* Ref.get(progressRef);
      const next = p.step + pending.length;
      const boundary = next >= stopAt || evalScheduled(next) || checkpointScheduled(next);
      if (!control || pending.length > 1 || boundary) yield* settleOne;
      // Steps between a settled one and a boundary: book them all before eval/checkpoint.
      if (boundary) while (pending.length > 0) yield* settleOne;
    });

    let checkedStep = startStep;
    const loop = Effect.gen(function* () {
      for (;;) {
        const { step } = yield* Ref.get(progressRef);
        if (step >= stopAt) break;
        yield* Effect.uninterruptible(oneStep);
        const p = yield* Ref.get(progressRef);
        // With a step in flight, oneStep may book none: evals and checkpoints go by booked steps, once each.
        if (p.step !== checkedStep) {
          checkedStep = p.step;
          const last = p.step === stopAt;
          const evalDue = evalScheduled(p.step) || last;
          const improved = evalDue ? yield* Effect.uninterruptible(runEval) : false;
          const checkpointDue =
            checkpointScheduled(p.step) || last || (improved && config.checkpoint.keepBest);
          if (checkpointDue)
            yield* Effect.uninterruptible(saveCheckpoint(evalDue ? p.lastEval?.loss : undefined));
        }
        // Let signals (Ctrl-C) and other fibers in between steps.
        yield* Effect.yieldNow;
      }
      if (startStep >= config.steps && finalEval === null) yield* Effect.uninterruptible(runEval);
    });

    const finish = (reason: 'completed' | 'stopped' | 'interrupted') =>
      Effect.gen(function* () {
        // Recorded steps run on the GPU whatever happens: book them before the checkpoint.
        while (pending.length > 0) yield* settleOne;
        const p = yield* Ref.get(progressRef);
        p.elapsedMs = yield* now;
        if (reason === 'interrupted')
          yield* saveCheckpoint(p.lastEval?.step === p.step ? p.lastEval.loss : undefined);
        yield* sink.write({
          type: 'end',
          step: p.step,
          reason,
          elapsedMs: yield* now,
          tokensPerSec: rate(sessionTokens, sessionMs),
        });
      });

    yield* loop.pipe(Effect.onInterrupt(() => finish('interrupted').pipe(Effect.orDie)));
    const p = yield* Ref.get(progressRef);
    const reason = p.step >= config.steps ? 'completed' : 'stopped';
    yield* finish(reason);
    const summary: TrainSummary = {
      runDir: ctx.runDir,
      steps: p.step,
      reason,
      finalEval,
      lastCheckpoint,
      elapsedMs: p.elapsedMs,
      tokensPerSec: rate(sessionTokens, sessionMs),
      skippedSteps: p.skipped,
      parameters: model.parameterCount,
      device: device.description,
      task: data.task,
    };
    return summary;
  });

const rate = (tokens: number, ms: number): number => (ms > 0 ? (tokens * 1000) / ms : 0);

/** Fails early, with a clear message, when the model's output cannot cover the data's token ids. */
const checkVocabulary = (
  model: import('../model/Model.js').ModelShape,
  vocabSize: number,
  seqLen: number,
  backend: import('@dynconv/tensor').Backend,
  withDocStart: boolean,
) =>
  Effect.gen(function* () {
    const width = yield* Effect.try({
      try: () =>
        noGrad(() =>
          tidy(() => {
            const probe = {
              inputs: new Int32Array(seqLen),
              targets: new Int32Array(seqLen),
              docStart: new Int32Array(seqLen),
              batchSize: 1,
              seqLen,
            };
            const logits = model.model.forward(batchInput(probe, backend, withDocStart), { training: false });
            return logits.shape[logits.rank - 1] ?? 0;
          }),
        ),
      catch: (e) =>
        new ModelError({
          architecture: model.architecture.name,
          reason: `forward failed: ${(e as Error).message}`,
        }),
    });
    if (width < vocabSize)
      return yield* new ModelError({
        architecture: model.architecture.name,
        reason: `the model predicts ${width} token ids but the data uses ${vocabSize}: set the model's vocabulary to at least ${vocabSize}`,
      });
  });
