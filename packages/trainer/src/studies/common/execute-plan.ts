import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Effect } from 'effect';
import { submitSweep } from '../../sweep/cluster/submit.js';
import type { RunExecutor } from '../../sweep/executor.js';
import { makeExecutor } from '../../sweep/executor-factory.js';
import type { SweepPlan } from '../../sweep/grid.js';
import { runLocalSweep } from '../../sweep/local-sweep.js';
import type { SweepResultRow } from '../../sweep/results.js';
import { SweepStore } from '../../sweep/sqlite-store.js';
import { describeSweepEvent, rowsFromStore, writeSweepResults } from '../../sweep/sweep-main.js';

/** Where a study's runs execute. */
export type StudyBackend =
  /** This process, `slots` runs at a time, state in `<outDir>/sweep.sqlite` (resumable). */
  | { readonly kind: 'local'; readonly slots?: number; readonly executor?: RunExecutor }
  /** The effect/cluster runners attached to this PostgreSQL database. */
  | { readonly kind: 'cluster'; readonly postgresUrl: string };

/**
 * Runs a study's plan as a sweep and returns one row per run (plan order);
 * writes `<outDir>/results.jsonl` (raw, one line per run) and `results.md`. Killing and rerunning the study
 * resumes: finished runs are read back, not repeated.
 */
export const executeStudyPlan = async (
  plan: SweepPlan,
  outDir: string,
  backend: StudyBackend,
  log: (line: string) => void,
): Promise<SweepResultRow[]> => {
  mkdirSync(outDir, { recursive: true });
  log(`${plan.name}: ${plan.runs.length} runs (${backend.kind})`);
  let rows: SweepResultRow[];
  if (backend.kind === 'cluster') {
    rows = await Effect.runPromise(
      submitSweep(plan, {
        postgresUrl: backend.postgresUrl,
        onProgress: (n, total, row) => log(`[${n}/${total}] ${row.id} ${row.status} on ${row.runner ?? '?'}`),
      }),
    );
  } else {
    const store = new SweepStore(join(outDir, 'sweep.sqlite'));
    try {
      await runLocalSweep({
        plan,
        store,
        outDir,
        executor: backend.executor ?? makeExecutor(plan.executor),
        ...(backend.slots === undefined ? {} : { slots: backend.slots }),
        retryFailed: true,
        onEvent: (event) => {
          const line = describeSweepEvent(event);
          if (line !== null) log(line);
        },
      });
      const byId = new Map(rowsFromStore(store.runs(plan.name)).map((r) => [r.id, r]));
      rows = plan.runs.map((run) => byId.get(run.id)!);
    } finally {
      store.close();
    }
  }
  const path = writeSweepResults(outDir, rows);
  log(`${plan.name}: ${rows.filter((r) => r.status === 'done').length}/${rows.length} runs done -> ${path}`);
  return rows;
};
