import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import type { SweepResultRow } from '../src/sweep/results.js';
import { runSweepFile } from '../src/sweep/sweep-main.js';
import { bundleSweepProcess } from './sweep-support/bundle.js';

/** A tiny MQAR transformer run on the CPU backend (about a second per 30 steps). */
const tinyRun = (steps: number, checkpointEvery: number) => ({
  name: 'tiny',
  device: 'cpu',
  seed: 1,
  steps,
  model: { architecture: 'transformer', config: { vocabSize: 32, dModel: 16, nLayers: 1, nHeads: 1 } },
  data: { kind: 'mqar', vocabSize: 32, numKvPairs: 2, trainExamples: 512, evalExamples: 32 },
  batch: { size: 8, seqLen: 16 },
  optimizer: { lr: 0.01 },
  schedule: { kind: 'cosine', warmupSteps: 2 },
  eval: { every: 10 },
  checkpoint: { every: checkpointEvery, keepLast: 2 },
  logEvery: 1,
});

const writeGrid = (dir: string, grid: Record<string, unknown>): string => {
  const path = join(dir, 'grid.json');
  writeFileSync(path, JSON.stringify(grid));
  return path;
};

const readRows = (outDir: string): SweepResultRow[] =>
  readFileSync(join(outDir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SweepResultRow);

describe('sweeps with the in-process trainer executor', () => {
  test('each run trains with the trainer; the outcome carries final and best eval metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-trainer-'));
    const gridPath = writeGrid(dir, {
      name: 'trainer-grid',
      base: tinyRun(20, 10),
      axes: { 'model.config.conv': ['none', 'dynamic-qkv'] },
    });
    const { rows } = await runSweepFile({ gridPath, outDir: join(dir, 'out'), log: () => {} });
    expect(rows.map((r) => r.status)).toEqual(['done', 'done']);
    for (const row of rows) {
      expect(row.metrics?.['steps']).toBe(20);
      expect(row.metrics?.['evalLoss']).toBeGreaterThan(0);
      expect(row.metrics?.['bestEvalAccuracy']).toBeGreaterThanOrEqual(0);
      expect(existsSync(join(dir, 'out', 'runs', row.id, 'train', 'metrics.jsonl'))).toBe(true);
    }
    // DSC adds parameters: the two runs really built different models.
    expect(rows[1]!.metrics?.['parameters']).toBeGreaterThan(
      rows[0]!.metrics?.['parameters'] ?? Number.POSITIVE_INFINITY,
    );
  });

  describe('as a process', () => {
    let bundle: string;
    beforeAll(async () => {
      bundle = await bundleSweepProcess();
    });

    const runToEnd = (
      args: readonly string[],
    ): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } => {
      const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      return {
        child,
        done: new Promise((resolve) => child.once('exit', (code) => resolve({ code, output }))),
      };
    };

    test('SIGKILL mid-training: the restarted sweep resumes the run from its checkpoint, bit-exactly', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-trainer-'));
      const gridPath = writeGrid(dir, { name: 'resume', base: tinyRun(150, 10), axes: {} });
      const outDir = join(dir, 'out');

      const first = runToEnd(['local', gridPath, outDir, '60000']);
      const runsDir = join(outDir, 'runs');
      const checkpointsOf = () => {
        if (!existsSync(runsDir)) return [];
        const [id] = readdirSync(runsDir);
        const dirPath = join(runsDir, id!, 'train', 'checkpoints');
        return existsSync(dirPath) ? readdirSync(dirPath).filter((n) => n.startsWith('step-')) : [];
      };
      while (!checkpointsOf().some((n) => Number(n.slice(5)) >= 30)) {
        if (first.child.exitCode !== null)
          throw new Error(`sweep ended before the kill:\n${(await first.done).output}`);
        await sleep(20);
      }
      first.child.kill('SIGKILL');
      await first.done;

      const second = runToEnd(['local', gridPath, outDir, '60000']);
      const { code, output } = await second.done;
      expect(code, output).toBe(0);
      expect(output).toMatch(/attempt 2/);
      const [row] = readRows(outDir);
      expect(row!.status).toBe('done');
      expect(row!.attempts).toBe(2);
      expect(readFileSync(join(outDir, 'runs', row!.id, 'attempt-2', 'run-config.json'), 'utf8')).toContain(
        '"steps": 150',
      );
      const trainSteps = readFileSync(join(outDir, 'runs', row!.id, 'train', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((r) => r.type === 'train')
        .map((r) => r.step);
      expect(trainSteps).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));

      // The same run uninterrupted ends with exactly the same eval loss.
      const freshDir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-trainer-'));
      const fresh = await runSweepFile({
        gridPath: writeGrid(freshDir, { name: 'fresh', base: tinyRun(150, 10), axes: {} }),
        outDir: join(freshDir, 'out'),
        log: () => {},
      });
      expect(fresh.rows[0]!.metrics?.['evalLoss']).toBe(row!.metrics?.['evalLoss']);
    });
  });
});
