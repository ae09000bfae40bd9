import { resolve } from 'node:path';
import { formatCount, writeReport } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Argument, Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { println } from '../output.js';

/** `dynconv report` */
export const reportCommand = Command.make(
  'report',
  {
    runs: Argument.String('run-dirs').pipe(
      Argument.withDescription('Run folders to compare'),
      Argument.atLeast(1),
    ),
    out: Flag.String('out').pipe(
      Flag.withAlias('o'),
      Flag.withDescription('HTML file to write'),
      Flag.withDefault('report.html'),
    ),
    title: Flag.String('title').pipe(Flag.withDescription('Report title'), Flag.optional),
  },
  (f) =>
    Effect.gen(function* () {
      const summaries = yield* writeReport(f.runs, f.out, { title: Option.getOrUndefined(f.title) }).pipe(
        asUserError,
      );
      for (const s of summaries)
        yield* println(
          `${s.name}: ${s.steps} steps, eval loss ${s.finalEvalLoss?.toFixed(4) ?? '–'}, accuracy ${s.finalAccuracy === null ? '–' : `${(100 * s.finalAccuracy).toFixed(1)}%`}, ${s.tokensPerSec === null ? '–' : formatCount(s.tokensPerSec)} tok/s`,
        );
      yield* println(`wrote ${resolve(f.out)}`);
    }),
).pipe(
  Command.withDescription(
    'Write a self-contained HTML report (loss curves as inline SVG, comparison table) for run folders.',
  ),
);
