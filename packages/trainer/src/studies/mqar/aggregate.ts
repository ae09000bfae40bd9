import type { SweepResultRow } from '../../sweep/results.js';

/** One cell of the MQAR table: a task × variant × d_model × (T, N), best LR per seed, averaged over seeds. */
export interface MqarCell {
  readonly task: string;
  readonly variant: string;
  readonly dModel: number;
  readonly seqLen: number;
  readonly numKvPairs: number;
  /** Mean over seeds of the best-over-LR accuracy. */
  readonly accuracy: number;
  readonly accuracyMin: number;
  readonly accuracyMax: number;
  /** The winning learning rate of each seed. */
  readonly bestLrs: readonly number[];
  readonly seeds: number;
  /** Runs of the cell that failed (excluded). */
  readonly failedRuns: number;
}

const label = (row: SweepResultRow, key: string): string | number => row.overrides[key] as string | number;

/**
 * Reduces the runs to table cells: for each seed, the best recall accuracy
 * over the learning-rate sweep (the metric is the best eval accuracy during
 * training, i.e. Zoology's early stopping); then mean/min/max over seeds.
 */
export const aggregateMqar = (rows: readonly SweepResultRow[], metric = 'bestEvalAccuracy'): MqarCell[] => {
  const cells = new Map<string, SweepResultRow[]>();
  for (const row of rows) {
    const key = ['task', 'variant', 'dModel', 'seqLen', 'numKvPairs'].map((k) => label(row, k)).join('|');
    cells.set(key, [...(cells.get(key) ?? []), row]);
  }
  return [...cells.values()].map((cellRows) => {
    const first = cellRows[0]!;
    const bySeed = new Map<number, { accuracy: number; lr: number }>();
    for (const row of cellRows) {
      const accuracy = row.metrics?.[metric];
      if (row.status !== 'done' || accuracy === undefined || !Number.isFinite(accuracy)) continue;
      const seed = Number(label(row, 'seed'));
      const current = bySeed.get(seed);
      if (!current || accuracy > current.accuracy)
        bySeed.set(seed, { accuracy, lr: Number(label(row, 'lr')) });
    }
    const accuracies = [...bySeed.values()].map((b) => b.accuracy);
    return {
      task: String(label(first, 'task')),
      variant: String(label(first, 'variant')),
      dModel: Number(label(first, 'dModel')),
      seqLen: Number(label(first, 'seqLen')),
      numKvPairs: Number(label(first, 'numKvPairs')),
      accuracy: accuracies.length ? accuracies.reduce((a, b) => a + b, 0) / accuracies.length : Number.NaN,
      accuracyMin: accuracies.length ? Math.min(...accuracies) : Number.NaN,
      accuracyMax: accuracies.length ? Math.max(...accuracies) : Number.NaN,
      bestLrs: [...bySeed.entries()].sort(([a], [b]) => a - b).map(([, b]) => b.lr),
      seeds: bySeed.size,
      failedRuns: cellRows.filter((r) => r.status !== 'done').length,
    };
  });
};
