import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runMqarStudy } from '../src/studies/mqar/study.js';

describe('dynconv study mqar (tiny)', () => {
  test('runs every task × variant × LR, aggregates best-of-LR cells and writes the report', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'dynconv-study-mqar-'));
    const lines: string[] = [];
    const started = Date.now();
    const result = await runMqarStudy({ size: 'tiny', outDir, log: (l) => lines.push(l) });
    const firstMs = Date.now() - started;
    const runs = readFileSync(result.resultsPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(runs).toHaveLength(4 * 3 * 2);
    expect(runs.every((r) => r.status === 'done')).toBe(true);
    expect(result.cells).toHaveLength(12);
    for (const cell of result.cells) {
      expect(cell.accuracy).toBeGreaterThanOrEqual(0);
      expect(cell.accuracy).toBeLessThanOrEqual(1);
      expect(cell.seeds).toBe(1);
      // Best of the LR sweep: the cell holds the larger of its two runs.
      const own = runs.filter(
        (r) =>
          r.overrides.task === cell.task &&
          r.overrides.variant === cell.variant &&
          r.overrides.dModel === cell.dModel,
      );
      expect(own).toHaveLength(2);
      expect(cell.accuracy).toBe(Math.max(...own.map((r) => r.metrics.bestEvalAccuracy)));
    }
    // Each task ran at the sequence length it needs for N pairs.
    expect(new Set(result.cells.map((c) => `${c.task}:${c.seqLen}`))).toEqual(
      new Set(['mqar:32', 'mqar-compositional:32', 'mqar-variable-keys:36']),
    );
    const html = readFileSync(result.reportPath, 'utf8');
    expect(html).toContain('<table>');
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    expect(html).toContain('DSC QKV (head-wise)');
    expect(existsSync(result.reportPath.replace(/\.html$/, '.md'))).toBe(true);
    expect(readFileSync(result.summaryPath, 'utf8').trim().split('\n')).toHaveLength(12);

    // Running the study again reads the finished runs back instead of training again.
    const again = Date.now();
    await runMqarStudy({ size: 'tiny', outDir, log: () => {} });
    expect(Date.now() - again).toBeLessThan(Math.max(2_000, firstMs / 4));
  });
});
