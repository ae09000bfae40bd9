import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One line of a sweep's `results.jsonl`. */
export interface SweepResultRow {
  readonly sweep: string;
  readonly id: string;
  readonly index: number;
  readonly overrides: Readonly<Record<string, unknown>>;
  readonly status: string;
  readonly attempts: number;
  /** Which cluster runner finished it (cluster sweeps only). */
  readonly runner?: string;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly details?: unknown;
  readonly error: string | null;
}

const finiteOrNull = (_key: string, value: unknown): unknown =>
  typeof value === 'number' && !Number.isFinite(value) ? null : value;

/** Writes rows as JSON lines (NaN metrics become null). */
export const writeJsonl = (path: string, rows: readonly unknown[]): void => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((row) => `${JSON.stringify(row, finiteOrNull)}\n`).join(''));
};

const formatCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (Number.isInteger(value)) return String(value);
    const rounded = Number(value.toPrecision(4));
    return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? rounded.toExponential() : String(rounded);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
};

/**
 * A Markdown table of a sweep: one row per run, a column per axis path and
 * per metric (union over runs, first-seen order).
 */
export const sweepMarkdownTable = (rows: readonly SweepResultRow[]): string => {
  const axisKeys = [...new Set(rows.flatMap((r) => Object.keys(r.overrides)))];
  const metricKeys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics ?? {})))];
  const header = ['run', ...axisKeys, 'status', ...metricKeys];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const cells = [
      row.id,
      ...axisKeys.map((k) => formatCell(row.overrides[k])),
      row.status,
      ...metricKeys.map((k) => formatCell(row.metrics?.[k])),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
};
