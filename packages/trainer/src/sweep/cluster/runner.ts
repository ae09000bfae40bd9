import { hostname } from 'node:os';
import { join } from 'node:path';
import { Effect, Layer, Schema, Semaphore } from 'effect';
import { Activity } from 'effect/workflow';
import type { RunExecutor } from '../executor.js';
import { type ExecutorSpec, ExecutorSpec as ExecutorSpecSchema, type PlannedRun } from '../grid.js';
import { type ClusterTuning, runnerClusterLayer } from './cluster-layers.js';
import { CompletedRunSchema, RunFailed, SweepRunWorkflow } from './sweep-workflow.js';

export interface SweepRunnerOptions {
  readonly postgresUrl: string;
  /** Address other runners and clients reach this runner at. */
  readonly host: string;
  readonly port: number;
  readonly listenHost?: string;
  /** Run folders go under `<outDir>/runs/<runId>/attempt-<n>-<runner>`. */
  readonly outDir: string;
  /**
   * Runs executed at once on this runner, one per local GPU. Default 1. Also
   * the runner's shard weight, so runs spread over runners in proportion to
   * their GPUs.
   */
  readonly slots?: number;
  /** Builds the executor a run's grid asks for (e.g. `makeExecutor`). */
  readonly executorFor: (spec: ExecutorSpec) => RunExecutor;
  readonly tuning?: ClusterTuning;
  readonly log?: (line: string) => void;
}

const decodeExecutorSpec = Schema.decodeUnknownSync(ExecutorSpecSchema);

/**
 * The workflow body on a runner: one durable activity that executes the run,
 * retried up to `maxAttempts` times. Each attempt's outcome is persisted, so
 * when this runner dies mid-run the workflow replays on another runner, skips
 * the recorded attempts and re-executes only the one in flight.
 */
const executeSweepRun = (options: SweepRunnerOptions) => {
  const runnerName = `${hostname()}-${options.port}`;
  const log = options.log ?? (() => {});
  const slotCount = options.slots ?? 1;
  // Runs are placed on runners by shard, not pulled, so a runner may own more
  // runs than GPUs: the extra ones wait here for a free slot.
  const gate = Semaphore.makeUnsafe(slotCount);
  const freeSlots = Array.from({ length: slotCount }, (_, i) => i);
  const withSlot = <A, E, R>(use: (slot: number) => Effect.Effect<A, E, R>) =>
    gate.withPermits(1)(
      Effect.acquireUseRelease(
        Effect.sync(() => freeSlots.shift()!),
        use,
        (slot) => Effect.sync(() => freeSlots.push(slot)),
      ),
    );
  return (payload: typeof SweepRunWorkflow.payloadSchema.Type) => {
    const run: PlannedRun = {
      id: payload.runId,
      index: payload.index,
      config: JSON.parse(payload.configJson) as Record<string, unknown>,
      overrides: JSON.parse(payload.overridesJson) as Record<string, unknown>,
    };
    const executor = options.executorFor(decodeExecutorSpec(JSON.parse(payload.executorJson)));
    const activity = Activity.make({
      name: 'execute-run',
      success: CompletedRunSchema,
      error: RunFailed,
      execute: Effect.gen(function* () {
        const attempt = yield* Activity.CurrentAttempt;
        const outcome = yield* withSlot((slot) =>
          Effect.tryPromise({
            try: (signal) => {
              log(`run ${run.id} (#${run.index}) attempt ${attempt} on ${runnerName} slot ${slot}`);
              return executor.execute(run, {
                attempt,
                slot,
                runDir: join(options.outDir, 'runs', run.id, `attempt-${attempt}-${runnerName}`),
                runRoot: join(options.outDir, 'runs', run.id),
                signal,
                log: (line) => log(`[${run.id}] ${line}`),
              });
            },
            catch: (error) =>
              new RunFailed({
                runId: run.id,
                attempts: attempt,
                message: error instanceof Error ? error.message : String(error),
              }),
          }),
        );
        return { ...outcome, attempt, runner: runnerName };
      }),
    });
    return activity.pipe(Activity.retry({ times: Math.max(0, payload.maxAttempts - 1) }));
  };
};

/** The runner's layer: registers the sweep workflow on a cluster runner. */
export const sweepRunnerLayer = (options: SweepRunnerOptions) =>
  SweepRunWorkflow.toLayer(executeSweepRun(options)).pipe(
    Layer.provideMerge(
      runnerClusterLayer({
        ...options,
        tuning: { runnerShardWeight: options.slots ?? 1, ...options.tuning },
      }),
    ),
  );

/** Runs a sweep runner until interrupted (SIGINT/SIGTERM under `NodeRuntime.runMain`). */
export const launchSweepRunner = (options: SweepRunnerOptions) => Layer.launch(sweepRunnerLayer(options));
