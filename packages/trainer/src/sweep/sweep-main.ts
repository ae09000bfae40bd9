import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunExecutor } from './executor.js';
import { makeExecutor } from './executor-factory.js';
import { loadGridFile, type SweepPlan } from './grid.js';
import { runLocalSweep, type SweepEvent, type SweepSummary } from './local-sweep.js';
import { type SweepResultRow, sweepMarkdownTable, writeJsonl } from './results.js';
import { type StoredRun, SweepStore } from './sqlite-store.js';

/** Default output folder of a sweep: `runs/sweeps/<name>` under the working directory. */
export const defaultSweepDir = (plan: SweepPlan): string => join('runs', 'sweeps', plan.name);

/** The rows of `results.jsonl` from stored runs. */
export const rowsFromStore = (runs: readonly StoredRun[]): SweepResultRow[] =>
  runs.map((run) => ({
    sweep: run.sweep,
    id: run.id,
    index: run.index,
    overrides: run.overrides,
    status: run.status,
    attempts: run.attempts,
    metrics: run.outcome?.metrics ?? null,
    ...(run.outcome?.details === undefined ? {} : { details: run.outcome.details }),
    error: run.error,
  }));

/** Writes `results.jsonl` and `results.md` into `outDir`; returns the JSONL path. */
export const writeSweepResults = (outDir: string, rows: readonly SweepResultRow[]): string => {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'results.jsonl');
  writeJsonl(path, rows);
  writeFileSync(join(outDir, 'results.md'), sweepMarkdownTable(rows));
  return path;
};

/** Human-readable one-liner for a sweep event. */
export const describeSweepEvent = (event: SweepEvent): string | null => {
  switch (event.kind) {
    case 'resumed': {
      const c = event.counts;
      return `sweep: ${c.done} done, ${c.failed} failed, ${c.pending} pending, ${c.running} running${
        event.reclaimed > 0 ? ` (${event.reclaimed} reclaimed from a dead process)` : ''
      }`;
    }
    case 'started':
      return `run ${event.runId} (#${event.index}) attempt ${event.attempt} on slot ${event.slot}`;
    case 'done':
      return `run ${event.runId} done: ${Object.entries(event.metrics)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`;
    case 'failed':
      return `run ${event.runId} failed${event.willRetry ? ' (will retry)' : ''}: ${event.error}`;
    case 'lease-lost':
      return `run ${event.runId}: lease lost, stopped`;
    case 'log':
      return null;
  }
};

export interface LocalSweepFileOptions {
  readonly gridPath: string;
  /** Default `runs/sweeps/<name>`; holds `sweep.sqlite`, `runs/`, `results.jsonl`, `results.md`. */
  readonly outDir?: string;
  readonly slots?: number;
  readonly leaseMs?: number;
  readonly retryFailed?: boolean;
  /** Overrides the grid's executor (tests, embedding). */
  readonly executor?: RunExecutor;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * `dynconv sweep <grid>` on the embedded default: expands the grid, runs it
 * in this process with durable state in `<outDir>/sweep.sqlite`, and writes
 * the results. Re-running the same command resumes.
 */
export const runSweepFile = async (
  options: LocalSweepFileOptions,
): Promise<{ summary: SweepSummary; rows: SweepResultRow[]; resultsPath: string }> => {
  const plan = loadGridFile(options.gridPath);
  const outDir = options.outDir ?? defaultSweepDir(plan);
  mkdirSync(outDir, { recursive: true });
  const store = new SweepStore(join(outDir, 'sweep.sqlite'));
  const log = options.log ?? ((line: string) => console.log(line));
  try {
    log(`sweep "${plan.name}": ${plan.runs.length} runs, state in ${store.path}`);
    const summary = await runLocalSweep({
      plan,
      store,
      executor: options.executor ?? makeExecutor(plan.executor),
      outDir,
      ...(options.slots === undefined ? {} : { slots: options.slots }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.retryFailed === undefined ? {} : { retryFailed: options.retryFailed }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onEvent: (event) => {
        const line = describeSweepEvent(event);
        if (line !== null) log(line);
      },
    });
    const rows = rowsFromStore(store.runs(plan.name));
    const resultsPath = writeSweepResults(outDir, rows);
    log(
      `sweep "${plan.name}": ${summary.counts.done} done, ${summary.counts.failed} failed -> ${resultsPath}`,
    );
    return { summary, rows, resultsPath };
  } finally {
    store.close();
  }
};
