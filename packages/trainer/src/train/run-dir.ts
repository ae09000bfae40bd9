import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Effect } from 'effect';
import { listCheckpoints } from '../checkpoint/checkpoint-io.js';
import { writeFileAtomic } from '../checkpoint/files.js';
import { resolvedJson } from '../config/resolve.js';
import { FileError } from '../errors.js';
import { truncateJsonlAfter } from '../metrics/MetricsSink.js';
import type { RunContextShape } from './RunContext.js';

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';

/** A fresh run must not write over another run's checkpoints. */
export const ensureFreshRunDir = (runDir: string): Effect.Effect<void, FileError> =>
  Effect.gen(function* () {
    const existing = yield* listCheckpoints(join(runDir, 'checkpoints'));
    if (existing.length > 0)
      return yield* new FileError({
        path: runDir,
        reason: `already holds ${existing.length} checkpoint(s) of another run; continue it with --resume ${runDir}, or choose another --run-dir`,
      });
  });

/**
 * Writes the resolved config beside the run and, for a resumed run, drops
 * metric records after the checkpoint's step (they will be produced again).
 */
export const writeRunFiles = (ctx: RunContextShape, fromStep: number): Effect.Effect<void, FileError> =>
  Effect.tryPromise({
    try: async () => {
      await mkdir(ctx.runDir, { recursive: true });
      const json = resolvedJson({ config: ctx.config, modelConfig: ctx.modelConfig });
      await writeFileAtomic(join(ctx.runDir, CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
      // A fresh run starts a fresh log (a run that died before its first checkpoint left one).
      if (fromStep === 0) await rm(join(ctx.runDir, METRICS_FILE), { force: true });
    },
    catch: (e) =>
      new FileError({ path: ctx.runDir, reason: `cannot write the run folder: ${(e as Error).message}` }),
  }).pipe(
    Effect.andThen(fromStep > 0 ? truncateJsonlAfter(join(ctx.runDir, METRICS_FILE), fromStep) : Effect.void),
  );
