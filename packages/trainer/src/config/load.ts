import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Effect } from 'effect';
import { ConfigError, FileError, type UnknownPreset } from '../errors.js';
import { deepMerge, parseOverride, setPath } from './overrides.js';
import { DEFAULT_PRESET, presetConfig } from './presets.js';

/** Where a run config comes from. */
export interface ConfigSources {
  /** A named preset; the default preset when neither this nor `file` is given. */
  readonly preset?: string | undefined;
  /** A `.json` file, or a `.ts`/`.mts`/`.js`/`.mjs` module whose default export is the config. */
  readonly file?: string | undefined;
  /** `path=value` overrides, applied last, in order. */
  readonly sets?: readonly string[];
  /** Presets pick larger sizes on a hardware GPU. */
  readonly gpu: boolean;
  /** Start from this raw config instead of the default preset (a resumed run's saved config). */
  readonly base?: unknown;
}

/** Reads a config file: JSON, or a JS/TS module's default export (Node strips TypeScript types). */
export const readConfigFile = (file: string): Effect.Effect<unknown, FileError> =>
  Effect.gen(function* () {
    const path = resolve(file);
    const ext = extname(path);
    if (ext === '.json') {
      const text = yield* Effect.tryPromise({
        try: () => readFile(path, 'utf8'),
        catch: (e) =>
          new FileError({
            path: file,
            reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message,
          }),
      });
      return yield* Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (e) => new FileError({ path: file, reason: `not valid JSON: ${(e as Error).message}` }),
      });
    }
    if (!['.ts', '.mts', '.js', '.mjs'].includes(ext))
      return yield* new FileError({
        path: file,
        reason: `unsupported config file type '${ext}' (use .json, .ts, .mts, .js or .mjs)`,
      });
    const mod = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(path).href) as Promise<{ default?: unknown }>,
      catch: (e) =>
        new FileError({
          path: file,
          reason:
            (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
              ? 'no such file'
              : `cannot load: ${(e as Error).message}`,
        }),
    });
    if (mod.default === undefined)
      return yield* new FileError({ path: file, reason: 'the module has no default export' });
    return mod.default;
  });

/**
 * Builds the raw (undecoded) config: preset, then file merged over it, then
 * each `--set`. Decoding happens afterwards, so overrides are validated like
 * every other field.
 */
export const loadRawConfig = (
  sources: ConfigSources,
): Effect.Effect<unknown, FileError | UnknownPreset | ConfigError> =>
  Effect.gen(function* () {
    const presetName =
      sources.preset ?? (sources.file || sources.base !== undefined ? undefined : DEFAULT_PRESET);
    let raw: unknown = presetName
      ? yield* presetConfig(presetName, { gpu: sources.gpu })
      : (sources.base ?? {});
    if (sources.file) raw = deepMerge(raw, yield* readConfigFile(sources.file));
    const problems: { path: string; message: string }[] = [];
    for (const text of sources.sets ?? []) {
      const o = parseOverride(text);
      if ('error' in o) problems.push({ path: `--set ${text}`, message: o.error });
      else raw = setPath(raw, o.path, o.value);
    }
    if (problems.length) return yield* new ConfigError({ source: '--set', problems });
    return raw;
  });
