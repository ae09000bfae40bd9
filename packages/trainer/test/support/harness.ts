import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Effect, Exit, Layer } from 'effect';
import { afterEach } from 'vitest';
import { memorySink } from '../../src/metrics/MetricsSink.js';
import type { MetricRecord, TrainRecord } from '../../src/metrics/records.js';
import { Architectures } from '../../src/model/Architectures.js';
import { runTraining, type TrainRequest } from '../../src/run.js';
import { bigram } from '../fixtures/bigram.js';

/** A temp folder removed by the returned cleanup. */
export const tempDir = (prefix = 'dynconv-trainer-'): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
};

/** The fixture registry: the test bigram, and a twin under another name (for mismatch tests). */
export const testArchitectures = Architectures.layerFrom([
  bigram,
  { ...bigram, name: 'test-bigram-twin', description: 'same model, another name' },
]);

/** A small, fast run config: the bigram fixture on tiny MQAR, CPU backend. */
export const tinyConfig = (over: Record<string, unknown> = {}) => ({
  name: 'tiny',
  device: 'cpu',
  seed: 7,
  steps: 12,
  model: { architecture: 'test-bigram', config: { vocabSize: 32, dModel: 8 } },
  data: { kind: 'mqar', vocabSize: 32, numKvPairs: 2, trainExamples: 512, evalExamples: 32 },
  batch: { size: 8, seqLen: 16 },
  optimizer: { lr: 5e-2 },
  schedule: { kind: 'cosine', warmupSteps: 2 },
  eval: { every: 6 },
  checkpoint: { every: 4, keepLast: 2 },
  logEvery: 1,
  ...over,
});

/** Runs `runTraining` in-process with the fixture registry, collecting records. */
export async function runTiny(request: Omit<TrainRequest, 'progress'>) {
  const records: MetricRecord[] = [];
  const exit = await Effect.runPromiseExit(
    runTraining({ ...request, progress: false, sinks: [memorySink(records)] }).pipe(
      Effect.provide(testArchitectures),
    ),
  );
  return { exit, records, summary: Exit.isSuccess(exit) ? exit.value : null };
}

export const trainLosses = (records: readonly MetricRecord[]): [number, number][] =>
  records.filter((r): r is TrainRecord => r.type === 'train').map((r) => [r.step, r.loss]);

export const failureOf = (exit: Exit.Exit<unknown, unknown>): { _tag?: string; message: string } => {
  if (Exit.isSuccess(exit)) throw new Error('expected a failure');
  const reason = (exit.cause as unknown as { reasons: { _tag: string; error?: unknown; defect?: unknown }[] })
    .reasons[0]!;
  const error = (reason.error ?? reason.defect) as { _tag?: string; message: string };
  return error;
};

export { Layer };

/** Temp folders for one test file, each removed after its test: call at the top level, then `newDir()` per test. */
export function tempDirsPerTest(): () => string {
  let cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups) c();
    cleanups = [];
  });
  return () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    return t.dir;
  };
}

/** Writes `config` as JSON into `dir` and returns the file. */
export const writeConfig = (dir: string, config: unknown, name = 'config.in.json'): string => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
};
