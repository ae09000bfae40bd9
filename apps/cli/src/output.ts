import { Effect } from 'effect';

/** Writes a line to stdout (results) — progress goes to stderr. */
export const println = (line = ''): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(`${line}\n`);
  });

/** Writes a line to stderr (headers, hints). */
export const eprintln = (line = ''): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`${line}\n`);
  });
