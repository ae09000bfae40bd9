import { Cause, Duration, Effect, Exit, Option } from 'effect';
import { canonicalJson } from '../canonical-json.js';
import type { SweepPlan } from '../grid.js';
import type { SweepResultRow } from '../results.js';
import { type ClusterTuning, clientClusterLayer } from './cluster-layers.js';
import { SweepRunWorkflow } from './sweep-workflow.js';

export interface ClusterSubmitOptions {
  readonly postgresUrl: string;
  /** How often to poll for finished runs. Default 1 s. */
  readonly pollInterval?: Duration.Input;
  readonly tuning?: ClusterTuning;
  readonly onProgress?: (finished: number, total: number, row: SweepResultRow) => void;
}

const payloadOf = (plan: SweepPlan, run: SweepPlan['runs'][number]) => ({
  sweep: plan.name,
  runId: run.id,
  index: run.index,
  configJson: canonicalJson(run.config),
  overridesJson: canonicalJson(run.overrides),
  maxAttempts: plan.maxAttempts,
  executorJson: canonicalJson(plan.executor),
});

/**
 * Submits every run of a sweep as a durable workflow and waits until all are
 * finished, whichever runners execute them. Idempotent: a run submitted
 * before (same sweep name and config) is joined, not repeated, so this is also
 * how a sweep is resumed or its results collected again.
 */
export const submitSweep = (plan: SweepPlan, options: ClusterSubmitOptions) =>
  Effect.gen(function* () {
    const executions = yield* Effect.forEach(
      plan.runs,
      (run) =>
        Effect.map(SweepRunWorkflow.execute(payloadOf(plan, run), { discard: true }), (executionId) => ({
          run,
          executionId,
        })),
      { concurrency: 8 },
    );
    const rows = new Map<string, SweepResultRow>();
    const pollInterval = options.pollInterval ?? Duration.seconds(1);
    while (rows.size < executions.length) {
      for (const { run, executionId } of executions) {
        if (rows.has(run.id)) continue;
        const result = yield* SweepRunWorkflow.poll(executionId);
        if (Option.isNone(result) || result.value._tag !== 'Complete') continue;
        const exit = result.value.exit;
        const base = { sweep: plan.name, id: run.id, index: run.index, overrides: run.overrides };
        const row: SweepResultRow = Exit.isSuccess(exit)
          ? {
              ...base,
              status: 'done',
              attempts: exit.value.attempt,
              runner: exit.value.runner,
              metrics: exit.value.metrics,
              ...(exit.value.details === undefined ? {} : { details: exit.value.details }),
              error: null,
            }
          : failureRow(base, exit.cause);
        rows.set(run.id, row);
        options.onProgress?.(rows.size, executions.length, row);
      }
      if (rows.size < executions.length) yield* Effect.sleep(pollInterval);
    }
    return plan.runs.map((run) => rows.get(run.id)!);
  }).pipe(Effect.provide(clientClusterLayer(options)));

const failureRow = (
  base: Pick<SweepResultRow, 'sweep' | 'id' | 'index' | 'overrides'>,
  cause: Cause.Cause<{ readonly attempts: number; readonly message: string }>,
): SweepResultRow => {
  const failure = Cause.findErrorOption(cause);
  return Option.isSome(failure)
    ? {
        ...base,
        status: 'failed',
        attempts: failure.value.attempts,
        metrics: null,
        error: failure.value.message,
      }
    : { ...base, status: 'failed', attempts: 0, metrics: null, error: Cause.pretty(cause) };
};
