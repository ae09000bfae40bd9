import { canonicalJson } from '../../sweep/canonical-json.js';
import type { ExecutorSpec, PlannedRun, SweepPlan } from '../../sweep/grid.js';
import { runIdOf } from '../../sweep/run-id.js';

/** One run a study wants: a trainer run config plus the labels the report groups by. */
export interface StudyRun {
  readonly config: Record<string, unknown>;
  /** E.g. `{ task: 'mqar', variant: 'dynamic-low-rank', dModel: 64, lr: 1e-3, seed: 0 }`. */
  readonly labels: Readonly<Record<string, string | number>>;
}

/**
 * A sweep plan from explicit runs (studies build their run lists in code
 * rather than from a grid file). Ids are config hashes as for grids, so a
 * study restarted with the same settings skips what it already ran.
 */
export const planFromRuns = (
  name: string,
  runs: readonly StudyRun[],
  options: { readonly executor?: ExecutorSpec; readonly maxAttempts?: number } = {},
): SweepPlan => {
  const seen = new Set<string>();
  const planned: PlannedRun[] = [];
  for (const run of runs) {
    const id = runIdOf(run.config);
    if (seen.has(id)) continue;
    seen.add(id);
    planned.push({ id, index: planned.length, overrides: run.labels, config: run.config });
  }
  return {
    name,
    executor: options.executor ?? { kind: 'trainer' },
    maxAttempts: options.maxAttempts ?? 2,
    runs: planned,
    gridJson: canonicalJson({ name, runs: planned.map((r) => r.config) }),
  };
};
