import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Effect, Exit, Result } from 'effect';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRawConfig } from '../src/config/load.js';
import { parseOverride, setPath } from '../src/config/overrides.js';
import { PRESETS } from '../src/config/presets.js';
import { crossFieldProblems, decodeAll, resolveConfig } from '../src/config/resolve.js';
import { RunConfig } from '../src/config/schema.js';
import type { ConfigError } from '../src/errors.js';
import { Architectures } from '../src/model/Architectures.js';
import { failureOf, tempDir, testArchitectures, tinyConfig } from './support/harness.js';

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

const resolve = (raw: unknown) =>
  Effect.runPromiseExit(resolveConfig(raw, 'test').pipe(Effect.provide(testArchitectures)));

describe('run config', () => {
  it('fills every default from a minimal config', async () => {
    const exit = await resolve({ model: { architecture: 'test-bigram' }, data: { kind: 'mqar' } });
    expect(Exit.isSuccess(exit)).toBe(true);
    if (!Exit.isSuccess(exit)) return;
    expect(exit.value.config.optimizer).toEqual({
      lr: 3e-4,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      gradClip: 1,
      noDecay: [],
    });
    expect(exit.value.config.batch).toEqual({ size: 32, seqLen: 64, gradAccumulation: 1 });
    expect(exit.value.modelConfig).toEqual({ vocabSize: 32, dModel: 8, nanAtCalls: [] });
  });

  it('lists every problem with its path, including the plugin config and unknown keys', async () => {
    const exit = await resolve({
      steps: -3,
      model: { architecture: 'test-bigram', config: { dModel: 'wide', extra: 1 } },
      data: { kind: 'mqar', numKvPairs: 0 },
      batch: { size: 0 },
      optimizer: { lr: 'fast', learning_rate: 1 },
      schedule: { kind: 'cosinus' },
    });
    const error = failureOf(exit) as unknown as ConfigError;
    expect(error._tag).toBe('ConfigError');
    const paths = error.problems.map((p) => p.path).sort();
    expect(paths).toEqual(
      [
        'batch.size',
        'data.numKvPairs',
        'model.config.dModel',
        'model.config.extra',
        'optimizer.learning_rate',
        'optimizer.lr',
        'schedule.kind',
        'steps',
      ].sort(),
    );
    for (const p of paths) expect(error.message).toContain(`${p}:`);
    expect(error.message).toMatch(/^Invalid config \(test\): 8 problems/);
  });

  it('reports an unknown architecture with the known names', async () => {
    const error = failureOf(
      await resolve({ model: { architecture: 'mamba9' }, data: { kind: 'mqar' } }),
    ) as unknown as ConfigError;
    expect(error.problems).toEqual([
      {
        path: 'model.architecture',
        message: "Unknown architecture 'mamba9'. Known architectures: test-bigram, test-bigram-twin",
      },
    ]);
  });

  it('checks fields against each other (MQAR layout)', async () => {
    const error = failureOf(
      await resolve({
        model: { architecture: 'test-bigram' },
        data: { kind: 'mqar', vocabSize: 16, numKvPairs: 8 },
        batch: { seqLen: 31 },
      }),
    ) as unknown as ConfigError;
    expect(error.problems.map((p) => p.path)).toEqual(['batch.seqLen', 'data.vocabSize', 'data.numKvPairs']);
  });

  it('applies --set overrides (JSON values or bare strings) before decoding', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, 'c.json');
    writeFileSync(file, JSON.stringify(tinyConfig()));
    const raw = await Effect.runPromise(
      loadRawConfig({
        file,
        sets: [
          'optimizer.lr=1e-3',
          'schedule.kind=linear',
          'batch={"size":4,"seqLen":16}',
          'data.numKvPairs=3',
        ],
        gpu: false,
      }),
    );
    const exit = await resolve(raw);
    expect(Exit.isSuccess(exit)).toBe(true);
    if (!Exit.isSuccess(exit)) return;
    expect(exit.value.config.optimizer.lr).toBe(1e-3);
    expect(exit.value.config.schedule.kind).toBe('linear');
    expect(exit.value.config.batch.size).toBe(4);
    expect(exit.value.config.batch.gradAccumulation).toBe(1); // the whole object was replaced: defaults again
    expect(parseOverride('nonsense')).toHaveProperty('error');
    expect(setPath({ a: [1, 2] }, ['a', '1'], 5)).toEqual({ a: [1, 5] });
  });

  it('reads TypeScript config modules and reports missing files', async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, 'run.config.ts');
    writeFileSync(file, `const config: { steps: number } = { steps: 77 };\nexport default config;\n`);
    const raw = await Effect.runPromise(loadRawConfig({ file, gpu: false }));
    expect(raw).toEqual({ steps: 77 });
    const missing = failureOf(
      await Effect.runPromiseExit(loadRawConfig({ file: join(t.dir, 'nope.json'), gpu: false })),
    );
    expect(missing.message).toBe(`${join(t.dir, 'nope.json')}: no such file`);
  });

  it('every preset resolves against the real architecture registry, on CPU and GPU sizes', async () => {
    for (const preset of PRESETS)
      for (const gpu of [false, true]) {
        const exit = await Effect.runPromiseExit(
          resolveConfig(preset.config({ gpu }), preset.name).pipe(Effect.provide(Architectures.layer)),
        );
        if (Exit.isFailure(exit)) throw new Error(`${preset.name} (gpu ${gpu}): ${failureOf(exit).message}`);
      }
    expect(PRESETS.map((p) => p.name)).toContain('mqar-dsc');
    expect(PRESETS.map((p) => p.name)).toContain('tinylm-baseline');
  });

  it('every preset decodes against the run config schema, on CPU and GPU sizes', () => {
    for (const preset of PRESETS)
      for (const gpu of [false, true]) {
        const decoded = decodeAll(RunConfig, preset.config({ gpu }));
        if (Result.isFailure(decoded)) throw new Error(`${preset.name}: ${JSON.stringify(decoded.failure)}`);
        expect(crossFieldProblems(decoded.success), preset.name).toEqual([]);
      }
  });
});
