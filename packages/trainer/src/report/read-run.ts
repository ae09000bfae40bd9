import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Effect } from 'effect';
import { FileError } from '../errors.js';
import type { MetricRecord } from '../metrics/records.js';
import { CONFIG_FILE, METRICS_FILE } from '../train/run-dir.js';

/** A run folder as the report sees it. */
export interface RunData {
  readonly dir: string;
  readonly name: string;
  /** The resolved `config.json` (absent for runs that never started). */
  readonly config: Record<string, unknown> | null;
  readonly records: readonly MetricRecord[];
}

/** Reads `config.json` and `metrics.jsonl` of a run folder (lines cut by a kill are skipped). */
export const readRun = (dir: string): Effect.Effect<RunData, FileError> =>
  Effect.tryPromise({
    try: async () => {
      const path = resolve(dir);
      const text = await readFile(join(path, METRICS_FILE), 'utf8');
      const records: MetricRecord[] = [];
      for (const line of text.split('\n'))
        if (line.trim())
          try {
            records.push(JSON.parse(line) as MetricRecord);
          } catch {
            // an incomplete last line of a killed run
          }
      let config: Record<string, unknown> | null = null;
      try {
        config = JSON.parse(await readFile(join(path, CONFIG_FILE), 'utf8')) as Record<string, unknown>;
      } catch {
        config = null;
      }
      const start = records.find((r) => r.type === 'start');
      const name = (typeof config?.['name'] === 'string' ? config['name'] : start?.name) ?? basename(path);
      return { dir: path, name, config, records };
    },
    catch: (e) =>
      new FileError({
        path: dir,
        reason:
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? `not a run folder (no ${METRICS_FILE})`
            : `cannot read the run: ${(e as Error).message}`,
      }),
  });
