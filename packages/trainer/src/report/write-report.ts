import { Effect } from 'effect';
import { writeFileAtomic } from '../checkpoint/files.js';
import { FileError } from '../errors.js';
import { type RunSummary, renderReport, summarize } from './html.js';
import { readRun } from './read-run.js';

/** Reads run folders and writes the HTML comparison report to `out`; returns the run summaries. */
export const writeReport = (
  runDirs: readonly string[],
  out: string,
  options: { readonly title?: string | undefined } = {},
) =>
  Effect.gen(function* () {
    if (runDirs.length === 0) return yield* new FileError({ path: out, reason: 'no run folders given' });
    const runs = yield* Effect.forEach(runDirs, readRun);
    const html = renderReport(runs, options.title !== undefined ? { title: options.title } : {});
    yield* Effect.tryPromise({
      try: () => writeFileAtomic(out, html),
      catch: (e) => new FileError({ path: out, reason: `cannot write the report: ${(e as Error).message}` }),
    });
    return runs.map(summarize) satisfies RunSummary[];
  });
