import { existsSync, readFileSync } from 'node:fs';

/** One line the toy run appends to its ledger. */
export interface LedgerEntry {
  readonly runId: string;
  readonly event: 'start' | 'end';
  readonly pid: number;
  readonly attempt: number;
}

export const readLedger = (path: string): LedgerEntry[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as LedgerEntry)
    : [];

/** How many times each run finished (appended `end`). */
export const finishesByRun = (entries: readonly LedgerEntry[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const e of entries) if (e.event === 'end') counts.set(e.runId, (counts.get(e.runId) ?? 0) + 1);
  return counts;
};
