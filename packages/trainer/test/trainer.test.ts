import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Exit } from 'effect';
import { describe, expect, it } from 'vitest';
import {
  failureOf,
  runTiny,
  tempDirsPerTest,
  tinyConfig,
  trainLosses,
  writeConfig,
} from './support/harness.js';

const newDir = tempDirsPerTest();

describe('training loop', () => {
  it('trains, evaluates, logs JSONL, writes the resolved config and keeps the last checkpoints', async () => {
    const dir = newDir();
    const runDir = join(dir, 'run');
    const { exit, records, summary } = await runTiny({ configFile: writeConfig(dir, tinyConfig()), runDir });
    expect(Exit.isSuccess(exit)).toBe(true);
    expect(summary!.steps).toBe(12);
    const losses = trainLosses(records).map(([, l]) => l);
    expect(losses).toHaveLength(12);
    expect(losses[11]!).toBeLessThan(losses[0]!);
    expect(records.filter((r) => r.type === 'eval').map((r) => r.step)).toEqual([6, 12]);
    const jsonl = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(jsonl.length).toBe(records.length);
    const resolved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    expect(resolved.optimizer.beta2).toBe(0.95); // defaults are filled in
    expect(resolved.model.config.nanAtCalls).toEqual([]); // plugin defaults too
    // checkpoints at 4, 8, 12 (+ best at eval steps); keepLast 2 plus the best one
    const kept = ['00000004', '00000008', '00000012'].filter((s) =>
      existsSync(join(runDir, 'checkpoints', `step-${s}`)),
    );
    expect(kept).toContain('00000012');
    expect(kept).toContain('00000008');
  });

  it('resumes bitwise exactly: N steps == k steps, checkpoint, resume, N-k steps', async () => {
    const dir = newDir();
    const config = writeConfig(dir, tinyConfig({ checkpoint: { every: 0, keepLast: 2 } }));
    const full = await runTiny({ configFile: config, runDir: join(dir, 'full') });
    const first = await runTiny({ configFile: config, runDir: join(dir, 'split'), stopAt: 5 });
    expect(first.summary!.reason).toBe('stopped');
    const second = await runTiny({ resume: join(dir, 'split') });
    expect(second.summary!.reason).toBe('completed');
    const resumed = [...trainLosses(first.records), ...trainLosses(second.records)];
    expect(resumed).toEqual(trainLosses(full.records)); // toEqual on numbers is exact (Object.is)
    // The resumed run's log has each step once.
    const steps = readFileSync(join(dir, 'split', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'train')
      .map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
});

// On WebGPU the skip is decided on the GPU and booked a step later (device step control): same records.
describe.each(['cpu', 'webgpu'] as const)('non-finite steps on %s', (device) => {
  it('skips non-finite steps, counts them and keeps training', async () => {
    const dir = newDir();
    const cfg = tinyConfig({
      device,
      model: { architecture: 'test-bigram', config: { vocabSize: 32, dModel: 8, nanAtCalls: [3, 4, 9] } },
    });
    const { exit, records, summary } = await runTiny({
      configFile: writeConfig(dir, cfg),
      runDir: join(dir, 'run'),
    });
    expect(Exit.isSuccess(exit)).toBe(true);
    const skips = records.filter((r) => r.type === 'skip');
    expect(skips.map((r) => [r.step, r.consecutive, r.skipped])).toEqual([
      [3, 1, 1],
      [4, 2, 2],
      [9, 1, 3],
    ]);
    expect(summary!.skippedSteps).toBe(3);
    expect(trainLosses(records).every(([, l]) => Number.isFinite(l))).toBe(true);
  });

  it('stops with a clear error after nanPatience non-finite steps in a row', async () => {
    const dir = newDir();
    const cfg = tinyConfig({
      device,
      nanPatience: 3,
      model: { architecture: 'test-bigram', config: { vocabSize: 32, dModel: 8, nanAtCalls: [2, 3, 4, 5] } },
    });
    const { exit, records } = await runTiny({ configFile: writeConfig(dir, cfg), runDir: join(dir, 'run') });
    const error = failureOf(exit);
    expect(error._tag).toBe('TrainingDiverged');
    expect(error.message).toMatch(/3 steps in a row \(up to step 4\).*non-finite/);
    expect(records.at(-1)).toMatchObject({ type: 'end', reason: 'diverged', step: 4 });
  });
});
