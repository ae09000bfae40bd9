import { relative } from 'node:path';
import { Architectures, formatCount, formatDuration, runTraining } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { eprintln, println } from '../output.js';

const optionalFlags = {
  preset: Flag.String('preset').pipe(
    Flag.withDescription(
      'Named run config (see `dynconv presets`); default mqar-dsc when no --config or --resume is given',
    ),
    Flag.optional,
  ),
  config: Flag.String('config').pipe(
    Flag.withAlias('c'),
    Flag.withDescription(
      'Run config file: .json, or a .ts/.mts/.js/.mjs module with a default export (merged over --preset)',
    ),
    Flag.optional,
  ),
  set: Flag.String('set').pipe(
    Flag.withDescription(
      'Override one config field, e.g. --set optimizer.lr=1e-3 (repeatable; values are JSON or plain strings)',
    ),
    Flag.atLeast(0),
  ),
  steps: Flag.Int('steps').pipe(
    Flag.withDescription('Optimizer steps (same as --set steps=N)'),
    Flag.optional,
  ),
  device: Flag.Literals('device', ['auto', 'cpu', 'webgpu']).pipe(
    Flag.withDescription('auto: a GPU when present, else the faster of software WebGPU and the CPU backend'),
    Flag.optional,
  ),
  seed: Flag.Int('seed').pipe(
    Flag.withDescription('Seed of init, data order and sampling (same as --set seed=N)'),
    Flag.optional,
  ),
  runDir: Flag.String('run-dir').pipe(
    Flag.withDescription(
      'Folder for config.json, metrics.jsonl and checkpoints/ (default runs/<name>-<time>)',
    ),
    Flag.optional,
  ),
  resume: Flag.String('resume').pipe(
    Flag.withDescription(
      'Continue a run: its folder, or one checkpoint folder; the saved config is reused (--set/--steps still apply)',
    ),
    Flag.optional,
  ),
  stopAt: Flag.Int('stop-at').pipe(
    Flag.withDescription('Stop with a checkpoint after this step (resume later to finish)'),
    Flag.optional,
  ),
  quiet: Flag.Boolean('quiet').pipe(
    Flag.withAlias('q'),
    Flag.withDescription('No progress line'),
    Flag.withDefault(false),
  ),
};

const opt = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o);

/** `dynconv train` */
export const trainCommand = Command.make('train', optionalFlags, (f) =>
  Effect.gen(function* () {
    const sets = [...f.set];
    const steps = opt(f.steps);
    const device = opt(f.device);
    const seed = opt(f.seed);
    if (steps !== undefined) sets.push(`steps=${steps}`);
    if (device !== undefined) sets.push(`device=${device}`);
    if (seed !== undefined) sets.push(`seed=${seed}`);
    let runDir = '';
    const summary = yield* runTraining({
      preset: opt(f.preset),
      configFile: opt(f.config),
      sets,
      resume: opt(f.resume),
      runDir: opt(f.runDir),
      stopAt: opt(f.stopAt),
      progress: !f.quiet,
      onStart: ({ config, device: dev, runDir: dir, resumedFrom }) => {
        runDir = dir;
        const c = config.config;
        const conv = (config.modelConfig as { conv?: string } | undefined)?.conv;
        process.stderr.write(
          `dynconv train · ${c.name} · ${c.model.architecture}${conv ? ` (${conv})` : ''} · ${c.data.kind} · ${c.steps} steps of ${c.batch.size}×${c.batch.seqLen}` +
            `${resumedFrom ? ` · resuming at step ${resumedFrom}` : ''}\n  device ${dev.description}\n  run folder ${relative(process.cwd(), dir) || '.'}\n`,
        );
      },
    }).pipe(
      Effect.provide(Architectures.layer),
      Effect.onInterrupt(() =>
        eprintln(
          runDir
            ? `Interrupted. Resume with: dynconv train --resume ${relative(process.cwd(), runDir) || '.'}`
            : 'Interrupted.',
        ),
      ),
      asUserError,
    );
    const where = relative(process.cwd(), summary.runDir) || '.';
    yield* println(
      `${summary.reason === 'completed' ? 'done' : 'stopped'}: ${summary.steps} steps in ${formatDuration(summary.elapsedMs)} ` +
        `(${formatCount(summary.tokensPerSec)} tok/s) on ${summary.device}${summary.skippedSteps ? `, ${summary.skippedSteps} non-finite steps skipped` : ''}`,
    );
    if (summary.finalEval) {
      const e = summary.finalEval;
      const what = summary.task === 'recall' ? 'recall accuracy' : 'token accuracy';
      yield* println(
        `final eval: loss ${e.loss.toFixed(4)} | perplexity ${e.perplexity.toFixed(2)} | ${what} ${(100 * e.accuracy).toFixed(1)}%`,
      );
    }
    yield* println(`run folder: ${where}  (report: dynconv report ${where})`);
  }),
).pipe(
  Command.withDescription(
    'Train a model. With no arguments: a small transformer with DSC on Q/K/V on MQAR (generated on the fly), on the best device present.',
  ),
  Command.withExamples([
    { command: 'dynconv train', description: 'The default: preset mqar-dsc' },
    {
      command: 'dynconv train --preset mqar-baseline --steps 300',
      description: 'The baseline without short convolutions',
    },
    {
      command: 'dynconv train --config run.json --set optimizer.lr=1e-3',
      description: 'A config file with an override',
    },
    {
      command: 'dynconv train --resume runs/mqar-dsc-20260101-120000',
      description: 'Continue an interrupted run',
    },
  ]),
);
