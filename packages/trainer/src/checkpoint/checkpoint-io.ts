import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Effect } from 'effect';
import { CheckpointError } from '../errors.js';
import {
  exists,
  isDirectory,
  readBytes,
  sha256,
  TEMP_PREFIX,
  writeFolderAtomic,
  writeSynced,
} from './files.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointManifest,
  type CheckpointState,
  checkpointName,
  MANIFEST_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  stepOfName,
} from './format.js';
import { decodeTensorFile, encodeTensorFile, type HostTensor } from './tensor-file.js';

/** What a checkpoint holds, with tensors already on the host. */
export interface CheckpointContent {
  readonly state: CheckpointState;
  readonly model: ReadonlyMap<string, HostTensor>;
  readonly optimizer: ReadonlyMap<string, HostTensor>;
}

/** A verified checkpoint read from disk. */
export interface LoadedCheckpoint extends CheckpointContent {
  readonly path: string;
}

/**
 * Writes checkpoint `content` as `<dir>/step-XXXXXXXX` atomically: the files
 * and their manifest go to a temporary folder that is renamed into place last.
 * An interrupted write leaves earlier checkpoints untouched.
 */
export const writeCheckpoint = (
  dir: string,
  content: CheckpointContent,
): Effect.Effect<string, CheckpointError> => {
  const final = join(dir, checkpointName(content.state.step));
  return Effect.tryPromise({
    try: async () => {
      await writeFolderAtomic(final, async (temp) => {
        const files: Record<string, Uint8Array> = {
          [MODEL_FILE]: encodeTensorFile(content.model, {
            format: 'pt',
            architecture: content.state.architecture,
          }),
          [OPTIMIZER_FILE]: encodeTensorFile(content.optimizer, { optimizer: 'adamw' }),
          [STATE_FILE]: new TextEncoder().encode(`${JSON.stringify(content.state, null, 2)}\n`),
        };
        const entries: Record<string, { bytes: number; sha256: string }> = {};
        for (const [name, bytes] of Object.entries(files)) {
          await writeSynced(join(temp, name), bytes);
          entries[name] = { bytes: bytes.length, sha256: sha256(bytes) };
        }
        const manifest: CheckpointManifest = {
          format: CHECKPOINT_FORMAT,
          version: CHECKPOINT_VERSION,
          step: content.state.step,
          files: entries,
        };
        await writeSynced(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      });
      return final;
    },
    catch: (e) => new CheckpointError({ path: final, reason: 'write', detail: (e as Error).message }),
  });
};

/** Complete checkpoints (those with a manifest) in `dir`, oldest first. */
export const listCheckpoints = (dir: string): Effect.Effect<{ step: number; path: string }[]> =>
  Effect.promise(async () => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const found: { step: number; path: string }[] = [];
    for (const name of names) {
      const step = stepOfName(name);
      if (step === null || name.startsWith(TEMP_PREFIX)) continue;
      if (await exists(join(dir, name, MANIFEST_FILE))) found.push({ step, path: join(dir, name) });
    }
    return found.sort((a, b) => a.step - b.step);
  });

/**
 * Turns what a user passed (a checkpoint folder, a `checkpoints/` folder or a
 * run folder) into one checkpoint folder: the newest complete one.
 */
export const resolveCheckpointPath = (path: string): Effect.Effect<string, CheckpointError> =>
  Effect.gen(function* () {
    if (!(yield* Effect.promise(() => isDirectory(path))))
      return yield* new CheckpointError({ path, reason: 'missing', detail: 'no such folder' });
    if (stepOfName(basename(path)) !== null || (yield* Effect.promise(() => exists(join(path, STATE_FILE)))))
      return path;
    for (const dir of [join(path, 'checkpoints'), path]) {
      const all = yield* listCheckpoints(dir);
      const latest = all[all.length - 1];
      if (latest) return latest.path;
    }
    return yield* new CheckpointError({
      path,
      reason: 'missing',
      detail:
        'no complete checkpoint here (expected a step-XXXXXXXX folder with a manifest.json, or a run folder containing checkpoints/)',
    });
  });

const corrupt = (path: string, detail: string) => new CheckpointError({ path, reason: 'corrupt', detail });

/** Reads and verifies one checkpoint folder (sizes, SHA-256, formats). */
export const readCheckpoint = (path: string): Effect.Effect<LoadedCheckpoint, CheckpointError> =>
  Effect.gen(function* () {
    if (!(yield* Effect.promise(() => isDirectory(path))))
      return yield* new CheckpointError({ path, reason: 'missing', detail: 'no such folder' });
    const manifestPath = join(path, MANIFEST_FILE);
    if (!(yield* Effect.promise(() => exists(manifestPath))))
      return yield* corrupt(
        path,
        `${MANIFEST_FILE} is missing: the checkpoint is incomplete (its write was interrupted)`,
      );
    const manifest = yield* Effect.tryPromise({
      try: async () =>
        JSON.parse(new TextDecoder().decode(await readBytes(manifestPath))) as CheckpointManifest,
      catch: (e) => corrupt(manifestPath, `not valid JSON (${(e as Error).message})`),
    });
    if (
      manifest.format !== CHECKPOINT_FORMAT ||
      typeof manifest.files !== 'object' ||
      manifest.files === null
    )
      return yield* corrupt(manifestPath, `not a ${CHECKPOINT_FORMAT} manifest`);
    const files: Record<string, Uint8Array> = {};
    for (const name of [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE]) {
      const entry = manifest.files[name];
      const file = join(path, name);
      if (!entry) return yield* corrupt(manifestPath, `lists no ${name}`);
      const bytes = yield* Effect.tryPromise({
        try: () => readBytes(file),
        catch: () => corrupt(file, 'file is missing'),
      });
      if (bytes.length !== entry.bytes)
        return yield* corrupt(
          file,
          `${bytes.length} bytes, the manifest says ${entry.bytes} (truncated or overwritten)`,
        );
      if (sha256(bytes) !== entry.sha256)
        return yield* corrupt(file, 'SHA-256 differs from the manifest (the file was modified or damaged)');
      files[name] = bytes;
    }
    const state = yield* Effect.try({
      try: () => JSON.parse(new TextDecoder().decode(files[STATE_FILE])) as CheckpointState,
      catch: (e) => corrupt(join(path, STATE_FILE), `not valid JSON (${(e as Error).message})`),
    });
    if (state.format !== CHECKPOINT_FORMAT || state.version !== CHECKPOINT_VERSION)
      return yield* corrupt(
        join(path, STATE_FILE),
        `unsupported format ${String(state.format)} v${String(state.version)}`,
      );
    const decode = (name: string) =>
      Effect.try({
        try: () => decodeTensorFile(files[name]!, join(path, name)).tensors,
        catch: (e) => corrupt(join(path, name), (e as Error).message),
      });
    const model = yield* decode(MODEL_FILE);
    const optimizer = yield* decode(OPTIMIZER_FILE);
    return { path, state, model, optimizer };
  });
