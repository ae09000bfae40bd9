import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunExecutor } from './executor.js';
import type { SweepPlan } from './grid.js';
import { type ClaimedRun, makeOwnerId, type RunStatus, type SweepStore } from './sqlite-store.js';

/** Something that happened in a local sweep, for progress output. */
export type SweepEvent =
  | { readonly kind: 'resumed'; readonly counts: Record<RunStatus, number>; readonly reclaimed: number }
  | {
      readonly kind: 'started';
      readonly runId: string;
      readonly index: number;
      readonly attempt: number;
      readonly slot: number;
    }
  | { readonly kind: 'log'; readonly runId: string; readonly line: string }
  | { readonly kind: 'done'; readonly runId: string; readonly metrics: Readonly<Record<string, number>> }
  | { readonly kind: 'failed'; readonly runId: string; readonly error: string; readonly willRetry: boolean }
  | { readonly kind: 'lease-lost'; readonly runId: string };

export interface LocalSweepOptions {
  readonly plan: SweepPlan;
  readonly store: SweepStore;
  readonly executor: RunExecutor;
  /** Run folders go under `<outDir>/runs/<runId>/attempt-<n>`. */
  readonly outDir: string;
  /** Concurrent runs on this machine, one per local GPU. Default 1. */
  readonly slots?: number;
  /** A run not heartbeated for this long is considered crashed and re-queued. Default 30 s. */
  readonly leaseMs?: number;
  /** Heartbeat period. Default leaseMs / 3. */
  readonly heartbeatMs?: number;
  /** How often an idle slot looks again while other processes still hold runs. Default 1 s. */
  readonly pollMs?: number;
  /** Re-queue runs that exhausted their attempts in an earlier invocation. */
  readonly retryFailed?: boolean;
  readonly onEvent?: (event: SweepEvent) => void;
  /** Stops the sweep: running attempts are aborted and released (not counted as attempts). */
  readonly signal?: AbortSignal;
}

/** Final state of a local sweep invocation. */
export interface SweepSummary {
  readonly name: string;
  readonly counts: Record<RunStatus, number>;
  /** Runs this invocation executed (attempts started here). */
  readonly executedHere: number;
  readonly stopped: boolean;
}

/**
 * The embedded default: runs a sweep in this process, `slots` runs at a time,
 * with every state change in SQLite. Safe to kill at any moment and run
 * again: finished runs are skipped, and runs that were in flight come back
 * (at once when their owner process is gone, else after the lease expires).
 * Several processes may work on the same database concurrently.
 */
export const runLocalSweep = async (options: LocalSweepOptions): Promise<SweepSummary> => {
  const { plan, store, executor } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const heartbeatMs = options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3));
  const pollMs = options.pollMs ?? 1_000;
  const slots = options.slots ?? 1;
  const emit = options.onEvent ?? (() => {});
  const owner = makeOwnerId();
  const stop = options.signal;

  store.registerPlan(plan, { retryFailed: options.retryFailed ?? false });
  const reclaimed = store.reclaimDeadLocalOwners(plan.name);
  emit({ kind: 'resumed', counts: store.counts(plan.name), reclaimed });

  let executedHere = 0;

  const runOne = async ({ run, attempt }: ClaimedRun, slot: number): Promise<void> => {
    executedHere++;
    emit({ kind: 'started', runId: run.id, index: run.index, attempt, slot });
    const controller = new AbortController();
    const onStop = () => controller.abort(new Error('sweep stopped'));
    stop?.addEventListener('abort', onStop, { once: true });
    let leaseLost = false;
    const heartbeat = setInterval(() => {
      if (!store.heartbeat(plan.name, run.id, owner, leaseMs)) {
        leaseLost = true;
        emit({ kind: 'lease-lost', runId: run.id });
        controller.abort(new Error('lease lost'));
      }
    }, heartbeatMs);
    try {
      const outcome = await executor.execute(run, {
        attempt,
        slot,
        runDir: join(options.outDir, 'runs', run.id, `attempt-${attempt}`),
        runRoot: join(options.outDir, 'runs', run.id),
        signal: controller.signal,
        log: (line) => emit({ kind: 'log', runId: run.id, line }),
      });
      if (store.complete(plan.name, run.id, owner, outcome))
        emit({ kind: 'done', runId: run.id, metrics: outcome.metrics });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (stop?.aborted && !leaseLost) store.release(plan.name, run.id, owner);
      else if (!leaseLost && store.fail(plan.name, run.id, owner, message)) {
        const willRetry = store.runs(plan.name).find((r) => r.id === run.id)?.status === 'pending';
        emit({ kind: 'failed', runId: run.id, error: message, willRetry });
      }
    } finally {
      clearInterval(heartbeat);
      stop?.removeEventListener('abort', onStop);
    }
  };

  const worker = async (slot: number): Promise<void> => {
    while (!stop?.aborted) {
      const claimed = store.claim(plan.name, owner, leaseMs);
      if (claimed !== null) {
        await runOne(claimed, slot);
        continue;
      }
      // Nothing runnable: finished unless another process still holds runs
      // (it may crash, and then its runs come back to us).
      if (store.counts(plan.name).running === 0) return;
      await sleep(pollMs, undefined, stop ? { signal: stop } : {}).catch(() => {});
    }
  };

  await Promise.all(Array.from({ length: slots }, (_, slot) => worker(slot)));
  return { name: plan.name, counts: store.counts(plan.name), executedHere, stopped: stop?.aborted ?? false };
};
