import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Effect, Exit } from 'effect';
import { describe, expect, it } from 'vitest';
import { makeCheckpointStore } from '../src/checkpoint/CheckpointStore.js';
import { readCheckpoint, resolveCheckpointPath } from '../src/checkpoint/checkpoint-io.js';
import { CHECKPOINT_FORMAT, type CheckpointState } from '../src/checkpoint/format.js';
import {
  failureOf,
  runTiny,
  tempDirsPerTest,
  tinyConfig,
  trainLosses,
  writeConfig,
} from './support/harness.js';
import { finished, spawnChildRun } from './support/spawn.js';

const newDir = tempDirsPerTest();

const fakeState = (step: number): CheckpointState => ({
  format: CHECKPOINT_FORMAT,
  version: 1,
  step,
  architecture: 'x',
  modelConfig: {},
  runConfig: {},
  optimizerStep: step,
  dataCursor: null,
  rng: { seed: 0, offset: 0 },
  nonFinite: { consecutive: 0, skipped: 0 },
  tokensSeen: 0,
  elapsedMs: 0,
  lastEval: null,
  bestEvalLoss: null,
  createdAt: '',
});
const content = (step: number) => ({
  state: fakeState(step),
  model: new Map([['w', { dtype: 'f32' as const, shape: [2], data: new Float32Array([step, -step]) }]]),
  optimizer: new Map(),
});

/** A finished tiny run with checkpoints at steps 4, 8 and 12 (keepLast 3). */
const finishedRun = async (dir: string) => {
  const runDir = join(dir, 'run');
  const config = writeConfig(dir, tinyConfig({ checkpoint: { every: 4, keepLast: 3, keepBest: false } }));
  const { exit } = await runTiny({ configFile: config, runDir });
  expect(Exit.isSuccess(exit)).toBe(true);
  return {
    runDir,
    config,
    ckpt: (s: number) => join(runDir, 'checkpoints', `step-${String(s).padStart(8, '0')}`),
  };
};

const snapshotFiles = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(join(d, e.name));
      else out[join(d, e.name)] = readFileSync(join(d, e.name)).toString('base64');
  };
  walk(dir);
  return out;
};

describe('checkpoint store', () => {
  it('keeps the last N checkpoints plus the best one', async () => {
    const dir = newDir();
    const store = await Effect.runPromise(makeCheckpointStore(dir, { keepLast: 2, keepBest: true }));
    const losses = [5, 3, 4, 6, 7, 8];
    for (const [i, loss] of losses.entries()) await Effect.runPromise(store.save(content(i + 1), loss));
    const steps = (await Effect.runPromise(store.list())).map((c) => c.step);
    expect(steps).toEqual([2, 5, 6]);
    expect(await Effect.runPromise(store.best())).toEqual({ step: 2, evalLoss: 3 });
    const loaded = await Effect.runPromise(readCheckpoint(join(dir, 'step-00000002')));
    expect([...loaded.model.get('w')!.data]).toEqual([2, -2]);
  });

  it('without keepBest keeps only the last N', async () => {
    const dir = newDir();
    const store = await Effect.runPromise(makeCheckpointStore(dir, { keepLast: 1, keepBest: false }));
    for (const step of [1, 2, 3]) await Effect.runPromise(store.save(content(step), 10 - step * 4));
    expect((await Effect.runPromise(store.list())).map((c) => c.step)).toEqual([3]);
  });
});

describe('bad checkpoints', () => {
  it('a corrupt checkpoint fails with a clear error and leaves the run folder untouched', async () => {
    const dir = newDir();
    const { runDir, ckpt } = await finishedRun(dir);
    const weights = join(ckpt(12), 'model.safetensors');
    const bytes = readFileSync(weights);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(weights, bytes);
    const before = snapshotFiles(runDir);
    const { exit } = await runTiny({ resume: runDir });
    const error = failureOf(exit);
    expect(error._tag).toBe('CheckpointError');
    expect(error.message).toContain('corrupt checkpoint');
    expect(error.message).toMatch(/step-00000012\/model.safetensors\n {2}SHA-256 differs from the manifest/);
    expect(snapshotFiles(runDir)).toEqual(before);
  });

  it('an incomplete checkpoint folder (no manifest) is skipped when resolving, and refused when named', async () => {
    const dir = newDir();
    const { runDir, ckpt } = await finishedRun(dir);
    rmSync(join(ckpt(12), 'manifest.json'));
    expect(await Effect.runPromise(resolveCheckpointPath(runDir))).toBe(ckpt(8));
    const error = failureOf(await Effect.runPromiseExit(readCheckpoint(ckpt(12))));
    expect(error.message).toMatch(/manifest.json is missing: the checkpoint is incomplete/);
  });

  it('a checkpoint from another architecture or config is refused before anything is written', async () => {
    const dir = newDir();
    const { runDir } = await finishedRun(dir);
    const before = snapshotFiles(runDir);
    const otherArch = writeConfig(
      dir,
      tinyConfig({ model: { architecture: 'test-bigram-twin', config: { vocabSize: 32, dModel: 8 } } }),
      'a.json',
    );
    const e1 = failureOf((await runTiny({ resume: runDir, configFile: otherArch })).exit);
    expect(e1.message).toContain(
      "it was written by architecture 'test-bigram', this run builds 'test-bigram-twin'",
    );
    const wider = writeConfig(
      dir,
      tinyConfig({ model: { architecture: 'test-bigram', config: { vocabSize: 32, dModel: 16 } } }),
      'b.json',
    );
    const e2 = failureOf((await runTiny({ resume: runDir, configFile: wider })).exit);
    expect(e2.message).toContain('its test-bigram config differs');
    expect(e2.message).toContain('"dModel":16');
    expect(snapshotFiles(runDir)).toEqual(before);
  });

  it('missing paths and fresh runs over existing checkpoints are refused', async () => {
    const dir = newDir();
    const missing = failureOf((await runTiny({ resume: join(dir, 'nowhere') })).exit);
    expect(missing.message).toBe(`checkpoint not found: ${join(dir, 'nowhere')}\n  no such folder`);
    const { runDir, config } = await finishedRun(dir);
    const again = failureOf((await runTiny({ configFile: config, runDir })).exit);
    expect(again.message).toMatch(
      /already holds 3 checkpoint\(s\) of another run; continue it with --resume/,
    );
  });
});

describe('kill during a checkpoint write', () => {
  it('the last complete checkpoint still loads and the run resumes from it', async () => {
    const dir = newDir();
    // Large enough that each checkpoint write takes a while; one per step.
    const config = writeConfig(
      dir,
      tinyConfig({
        steps: 400,
        model: { architecture: 'test-bigram', config: { vocabSize: 4096, dModel: 256 } },
        data: { kind: 'mqar', vocabSize: 4096, numKvPairs: 2, trainExamples: 512, evalExamples: 8 },
        batch: { size: 2, seqLen: 16 },
        eval: { every: 0 },
        checkpoint: { every: 1, keepLast: 2, keepBest: false },
      }),
    );
    let runDir = '';
    let killedMidWrite = false;
    for (let attempt = 0; attempt < 4 && !killedMidWrite; attempt++) {
      runDir = join(dir, `run-${attempt}`);
      const child = spawnChildRun([config, runDir]);
      const done = finished(child);
      const ckptDir = join(runDir, 'checkpoints');
      // Kill as soon as a write is in progress and an earlier checkpoint is complete.
      for (;;) {
        const names = existsSync(ckptDir) ? readdirSync(ckptDir) : [];
        if (names.some((n) => n.startsWith('.tmp-')) && names.some((n) => n.startsWith('step-'))) {
          child.kill('SIGKILL');
          break;
        }
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      const result = await done;
      expect(result.signal).toBe('SIGKILL');
      killedMidWrite = readdirSync(ckptDir).some((n) => n.startsWith('.tmp-'));
    }
    expect(killedMidWrite).toBe(true);
    const latest = await Effect.runPromise(resolveCheckpointPath(runDir));
    const loaded = await Effect.runPromise(readCheckpoint(latest));
    expect(loaded.state.step).toBeGreaterThan(0);
    // Resuming finishes a few more steps from there (the stale temp folder is cleaned up).
    const resumed = await runTiny({ resume: runDir, sets: [`steps=${loaded.state.step + 2}`] });
    expect(Exit.isSuccess(resumed.exit)).toBe(true);
    expect(trainLosses(resumed.records).map(([s]) => s)).toEqual([
      loaded.state.step + 1,
      loaded.state.step + 2,
    ]);
    expect(readdirSync(join(runDir, 'checkpoints')).some((n) => n.startsWith('.tmp-'))).toBe(false);
  });
});
