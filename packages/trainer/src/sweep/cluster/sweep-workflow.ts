import { Schema } from 'effect';
import { Workflow } from 'effect/workflow';

/** What a finished run returns through the cluster: its `RunOutcome` plus where and on which attempt it ran. */
export const CompletedRunSchema = Schema.Struct({
  metrics: Schema.Record(Schema.String, Schema.Number),
  details: Schema.optionalKey(Schema.Unknown),
  attempt: Schema.Number,
  runner: Schema.String,
});
export type CompletedRun = typeof CompletedRunSchema.Type;

/** A run that failed on every allowed attempt. */
export class RunFailed extends Schema.TaggedError<RunFailed>()('RunFailed', {
  runId: Schema.String,
  attempts: Schema.Number,
  message: Schema.String,
}) {}

/**
 * One run of a sweep as a durable workflow. The execution id derives from
 * `sweep/runId`, so submitting the same sweep again joins the existing
 * executions: finished runs return their stored result instead of running
 * again. Configs travel as canonical JSON strings (they are plain JSON, and
 * the string keeps the payload schema independent of every architecture).
 */
export const SweepRunWorkflow = Workflow.make('DynconvSweepRun', {
  payload: {
    sweep: Schema.String,
    runId: Schema.String,
    index: Schema.Number,
    configJson: Schema.String,
    overridesJson: Schema.String,
    maxAttempts: Schema.Number,
    /** The grid's `ExecutorSpec` as JSON: how the runner executes this run. */
    executorJson: Schema.String,
  },
  success: CompletedRunSchema,
  error: RunFailed,
  idempotencyKey: ({ sweep, runId }) => `${sweep}/${runId}`,
});
