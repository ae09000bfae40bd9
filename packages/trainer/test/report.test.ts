import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Effect, Exit } from 'effect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize } from '../src/report/html.js';
import { readRun } from '../src/report/read-run.js';
import { niceTicks } from '../src/report/svg.js';
import { writeReport } from '../src/report/write-report.js';
import { failureOf, runTiny, tempDir, tinyConfig } from './support/harness.js';

let dir: string;
let cleanup: () => void;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  for (const [name, lr] of [
    ['bigram-fast', 5e-2],
    ['bigram-slow <b>', 1e-3],
  ] as const) {
    const file = join(dir, `${lr}.json`);
    writeFileSync(file, JSON.stringify(tinyConfig({ name, optimizer: { lr } })));
    const { exit } = await runTiny({ configFile: file, runDir: join(dir, `run-${lr}`) });
    expect(Exit.isSuccess(exit)).toBe(true);
  }
});
afterAll(() => cleanup());

describe('dynconv report', () => {
  it('writes one self-contained HTML file with SVG curves and a comparison table naming each run', async () => {
    const out = join(dir, 'report.html');
    const summaries = await Effect.runPromise(
      writeReport([join(dir, 'run-0.05'), join(dir, 'run-0.001')], out, { title: 'lr sweep' }),
    );
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain('bigram-fast');
    expect(html).toContain('bigram-slow &lt;b&gt;'); // names are escaped
    expect(html).toContain('<title>lr sweep</title>');
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(summaries.map((s) => [s.name, s.steps, s.status])).toEqual([
      ['bigram-fast', 12, 'completed'],
      ['bigram-slow <b>', 12, 'completed'],
    ]);
    expect(summaries[0]!.bestEvalLoss).toBeLessThan(summaries[1]!.bestEvalLoss!);
  });

  it('summarizes a run from its records and refuses folders that are not runs', async () => {
    const run = await Effect.runPromise(readRun(join(dir, 'run-0.05')));
    const s = summarize(run);
    expect(s.architecture).toBe('test-bigram');
    expect(s.parameters).toBe(2 * 32 * 8 + 32);
    expect(s.finalAccuracy).not.toBeNull();
    const error = failureOf(await Effect.runPromiseExit(readRun(join(dir, 'nope'))));
    expect(error.message).toContain('not a run folder (no metrics.jsonl)');
  });

  it('places axis ticks on round numbers', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(2.31, 3.47)).toEqual([2.4, 2.6, 2.8, 3, 3.2, 3.4]);
  });
});
