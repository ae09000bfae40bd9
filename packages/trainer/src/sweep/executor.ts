import type { PlannedRun } from './grid.js';

/** What one executed run reports back; stored in the sweep's database and results JSONL. */
export interface RunOutcome {
  /** Final scalar metrics (e.g. `loss`, `valLoss`, `accuracy`, `tokens`, `flops`, `seconds`). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Anything else JSON-serialisable the run wants kept (curves, paths of artefacts). */
  readonly details?: unknown;
}

/** Everything an executor gets besides the run itself. */
export interface RunContext {
  /** 1 for the first attempt; a run re-queued after a crash comes back with 2, 3, ... */
  readonly attempt: number;
  /** A folder owned by this attempt (config, logs, checkpoints, `result.json`). */
  readonly runDir: string;
  /**
   * The run's folder shared by all its attempts on this machine (`runDir`'s
   * parent): an executor that checkpoints can resume a crashed attempt there.
   */
  readonly runRoot: string;
  /** Which local worker slot (GPU) runs it: 0 .. slots-1. */
  readonly slot: number;
  /** Aborted when the sweep stops or the run's lease is lost; the executor must stop promptly. */
  readonly signal: AbortSignal;
  /** A progress line (also proves liveness to whoever watches the run). */
  readonly log: (line: string) => void;
}

/**
 * Runs one planned run to completion. Implementations: the in-process trainer
 * (`trainerExecutor`) and a child process per run (`ChildProcessExecutor`).
 * A rejected promise marks the attempt failed; the queue decides on retries.
 */
export interface RunExecutor {
  readonly name: string;
  execute(run: PlannedRun, context: RunContext): Promise<RunOutcome>;
}

/** Rejects when `signal` aborts: the message says why, so the queue can log it. */
export const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error
    ? signal.reason
    : new Error(`aborted: ${String(signal.reason ?? 'no reason')}`);
