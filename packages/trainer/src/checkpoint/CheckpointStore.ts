import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context, Effect, Layer } from 'effect';
import { CheckpointError } from '../errors.js';
import { type CheckpointContent, listCheckpoints, writeCheckpoint } from './checkpoint-io.js';
import { removeTempEntries, writeFileAtomic } from './files.js';
import type { BestPointer } from './format.js';

/** Retention of a {@link CheckpointStore}. */
export interface RetentionOptions {
  /** Recent checkpoints to keep. */
  readonly keepLast: number;
  /** Also keep the checkpoint with the lowest eval loss (tracked in `best.json`). */
  readonly keepBest: boolean;
}

/** The checkpoint store of one run: a `checkpoints/` folder with keep-last-N + best retention. */
export interface CheckpointStoreShape {
  readonly dir: string;
  /**
   * Writes a checkpoint atomically, records it as the best when `evalLoss` is
   * lower than the best so far, then deletes checkpoints outside the retention.
   * Returns the checkpoint's folder.
   */
  save(content: CheckpointContent, evalLoss?: number): Effect.Effect<string, CheckpointError>;
  /** Complete checkpoints, oldest first. */
  list(): Effect.Effect<{ step: number; path: string }[]>;
  /** The best checkpoint pointer, if any. */
  best(): Effect.Effect<BestPointer | null>;
}

export const BEST_FILE = 'best.json';

const readBest = (dir: string): Effect.Effect<BestPointer | null> =>
  Effect.promise(async () => {
    try {
      const b = JSON.parse(await readFile(join(dir, BEST_FILE), 'utf8')) as BestPointer;
      return typeof b.step === 'number' && typeof b.evalLoss === 'number' ? b : null;
    } catch {
      return null;
    }
  });

/** A store over folder `dir` (created on first write; leftovers of killed writes are removed). */
export const makeCheckpointStore = (
  dir: string,
  retention: RetentionOptions,
): Effect.Effect<CheckpointStoreShape> =>
  Effect.gen(function* () {
    yield* Effect.promise(() => removeTempEntries(dir));
    const prune = Effect.gen(function* () {
      const all = yield* listCheckpoints(dir);
      const best = retention.keepBest ? yield* readBest(dir) : null;
      const keep = new Set(all.slice(-retention.keepLast).map((c) => c.step));
      if (best) keep.add(best.step);
      for (const c of all)
        if (!keep.has(c.step)) yield* Effect.promise(() => rm(c.path, { recursive: true, force: true }));
    });
    const save = (content: CheckpointContent, evalLoss?: number) =>
      Effect.gen(function* () {
        const path = yield* writeCheckpoint(dir, content);
        if (retention.keepBest && evalLoss !== undefined && Number.isFinite(evalLoss)) {
          const best = yield* readBest(dir);
          if (!best || evalLoss < best.evalLoss) {
            const pointer: BestPointer = { step: content.state.step, evalLoss };
            yield* Effect.tryPromise({
              try: () => writeFileAtomic(join(dir, BEST_FILE), `${JSON.stringify(pointer)}\n`),
              catch: (e) =>
                new CheckpointError({
                  path: join(dir, BEST_FILE),
                  reason: 'write',
                  detail: (e as Error).message,
                }),
            });
          }
        }
        yield* prune;
        return path;
      });
    return { dir, save, list: () => listCheckpoints(dir), best: () => readBest(dir) };
  });

/** The checkpoint store service. */
export class CheckpointStore extends Context.Service<CheckpointStore, CheckpointStoreShape>()(
  '@dynconv/trainer/CheckpointStore',
) {
  /** Checkpoints of the run in `runDir`, under `runDir/checkpoints`. */
  static readonly layer = (runDir: string, retention: RetentionOptions): Layer.Layer<CheckpointStore> =>
    Layer.effect(CheckpointStore, makeCheckpointStore(join(runDir, 'checkpoints'), retention));
}
