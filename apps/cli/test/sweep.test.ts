import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, dynconv, start, tempDir } from './cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

/** A tiny MQAR transformer run on the CPU backend. */
const tinyRun = (steps: number) => ({
  name: 'cli-sweep',
  device: 'cpu',
  seed: 1,
  steps,
  model: { architecture: 'transformer', config: { vocabSize: 32, dModel: 16, nLayers: 1, nHeads: 1 } },
  data: { kind: 'mqar', vocabSize: 32, numKvPairs: 2, trainExamples: 512, evalExamples: 32 },
  batch: { size: 8, seqLen: 16 },
  optimizer: { lr: 0.01 },
  schedule: { kind: 'cosine', warmupSteps: 2 },
  eval: { every: 10 },
  checkpoint: { every: 10, keepLast: 2 },
  logEvery: 1,
});

describe('dynconv sweep, end to end', () => {
  it('runs a grid with one `dynconv train` process per run, two at a time, and resumes after SIGKILL without repeating finished runs', async () => {
    writeFileSync(
      join(dir, 'grid.json'),
      JSON.stringify({
        name: 'cli-grid',
        base: tinyRun(150),
        axes: { 'optimizer.lr': [0.01, 0.003], 'model.config.conv': ['none', 'static-qkv'] },
        executor: { kind: 'trainer-process' },
      }),
    );
    // Kill the sweep once a run has finished and others are mid-training.
    const first = start(['sweep', 'grid.json', '--out', 'sw', '--slots', '2'], dir);
    const killed = collect(first, (all) => {
      if (/done: steps=/.test(all)) first.kill('SIGKILL');
    });
    expect((await killed).signal).toBe('SIGKILL');

    const second = await dynconv(['sweep', 'grid.json', '--out', 'sw', '--slots', '2'], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/sweep: [1-3] done/); // what the first process finished is kept
    const rows = readFileSync(join(dir, 'sw', 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.status === 'done' && r.metrics.steps === 150)).toBe(true);
    // Runs finished before the kill were not started again.
    const startedAgain = [...second.stderr.matchAll(/^run ([0-9a-f]{16}) \(#\d\) attempt/gm)].map(
      (m) => m[1],
    );
    expect(startedAgain.length).toBeLessThan(4);
    expect(readFileSync(join(dir, 'sw', 'results.md'), 'utf8')).toContain(
      '| run | optimizer.lr | model.config.conv | status |',
    );

    const third = await dynconv(['sweep', 'grid.json', '--out', 'sw'], dir);
    expect(third.code).toBe(0);
    expect(third.stderr).toMatch(/sweep: 4 done, 0 failed, 0 pending, 0 running/);
    expect(third.stderr).not.toMatch(/attempt/);
  });

  it('lists the research commands', async () => {
    const help = await dynconv(['--help'], dir);
    for (const command of ['sweep', 'sweep-runner', 'study', 'dtr']) expect(help.stdout).toContain(command);
    const study = await dynconv(['study', '--help'], dir);
    for (const command of ['mqar', 'scaling', 'preproj']) expect(study.stdout).toContain(command);
  });
});
