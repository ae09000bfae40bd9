import { runDtr, runMqarStudy, runPreprojStudy, runScalingStudy, type StudyBackend } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { CliError, Command, Flag } from 'effect/cli';
import { println } from '../output.js';

const userError = (error: unknown) =>
  new CliError.UserError({
    cause: error,
    userMessage: error instanceof Error ? error.message : String(error),
  });

const common = {
  size: Flag.String('size').pipe(
    Flag.withDescription('Named size: tiny (default), cpu, h100 (see docs/results)'),
    Flag.withDefault('tiny'),
  ),
  config: Flag.String('config').pipe(
    Flag.withAlias('c'),
    Flag.withDescription('JSON file overriding fields of the size'),
    Flag.optional,
  ),
  out: Flag.String('out').pipe(
    Flag.withAlias('o'),
    Flag.withDescription('Output folder (default runs/studies/<name>)'),
    Flag.optional,
  ),
};

const sweepFlags = {
  ...common,
  slots: Flag.Int('slots').pipe(Flag.withDescription('Runs at once on this machine'), Flag.withDefault(1)),
  cluster: Flag.String('cluster').pipe(
    Flag.withDescription('postgres://… : run on effect/cluster runners instead of here'),
    Flag.optional,
  ),
};

const backendOf = (f: { slots: number; cluster: Option.Option<string> }): StudyBackend =>
  Option.isSome(f.cluster)
    ? { kind: 'cluster', postgresUrl: f.cluster.value }
    : { kind: 'local', slots: f.slots };

/** Several runs at once need one `dynconv train` process each (dispatch-bound small models are host-bound). */
const executorOf = (f: { slots: number; cluster: Option.Option<string> }) =>
  f.slots > 1 || Option.isSome(f.cluster)
    ? ({ kind: 'trainer-process' } as const)
    : ({ kind: 'trainer' } as const);

const base = (f: { size: string; config: Option.Option<string>; out: Option.Option<string> }) => ({
  size: f.size,
  ...(Option.isSome(f.config) ? { configFile: f.config.value } : {}),
  ...(Option.isSome(f.out) ? { outDir: f.out.value } : {}),
  command: `dynconv ${process.argv.slice(2).join(' ')}`,
  log: (line: string) => process.stderr.write(`${line}\n`),
});

const mqar = Command.make('mqar', sweepFlags, (f) =>
  Effect.gen(function* () {
    const r = yield* Effect.tryPromise({
      try: () => runMqarStudy({ ...base(f), backend: backendOf(f), executor: executorOf(f) }),
      catch: userError,
    });
    yield* println(`report: ${r.reportPath}\nruns: ${r.resultsPath}\ncells: ${r.summaryPath}`);
  }),
).pipe(
  Command.withDescription(
    'MQAR: none vs static-QKV vs dynamic-QKV (low-rank, head-wise) over d_model × sequence length × keys, on standard, compositional and variable-length-key MQAR, best of an LR sweep.',
  ),
);

const scaling = Command.make(
  'scaling',
  {
    ...sweepFlags,
    corpus: Flag.String('corpus').pipe(Flag.withDescription('Prepared corpus folder (dynconv prepare)')),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* Effect.tryPromise({
        try: () =>
          runScalingStudy({ ...base(f), corpus: f.corpus, backend: backendOf(f), executor: executorOf(f) }),
        catch: userError,
      });
      for (const m of r.analysis.multipliers)
        yield* println(
          m.result
            ? `${m.variant} vs ${m.baseline}: compute multiplier ${m.result.multiplier.toFixed(3)} [${m.result.lower.toFixed(3)}, ${m.result.upper.toFixed(3)}]`
            : `${m.variant} vs ${m.baseline}: ${m.problem}`,
        );
      yield* println(`report: ${r.reportPath}\nruns: ${r.resultsPath}`);
    }),
).pipe(
  Command.withDescription(
    'LM ablation and scaling: a ladder of sizes per architecture at a fixed tokens-per-parameter ratio, honest FLOPs, robust L(C) fits and compute multipliers with bootstrap CIs.',
  ),
);

const preproj = Command.make(
  'preproj',
  {
    ...common,
    base: Flag.String('base').pipe(
      Flag.withDescription('Trained transformer: run folder or checkpoint folder'),
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* runPreprojStudy({ ...base(f), base: f.base }).pipe(Effect.mapError(userError));
      for (const a of r.arms)
        yield* println(
          `${a.arm}: perplexity ${a.perplexity.toFixed(3)} (${a.trainableParameters} trainable)`,
        );
      yield* println(`report: ${r.reportPath}`);
    }),
).pipe(
  Command.withDescription(
    'Pre-projection probe: freeze a trained base, train pre-projection (+ content skip) only, compare with a LoRA of similar parameter count; perplexity and per-layer skip norms.',
  ),
);

/** `dynconv study <mqar|scaling|preproj>` */
export const studyCommand = Command.make('study').pipe(
  Command.withDescription(
    'Research studies: each writes an HTML report (tables and plots) and the raw JSONL.',
  ),
  Command.withSubcommands([mqar, scaling, preproj]),
);

/** `dynconv dtr` */
export const dtrCommand = Command.make(
  'dtr',
  {
    ...common,
    checkpoint: Flag.String('checkpoint').pipe(
      Flag.withDescription('Trained full-attention transformer: run folder or checkpoint folder'),
    ),
    mixer: Flag.Literals('mixer', ['gated-deltanet', 'gla']).pipe(
      Flag.withDescription('Linear replacement module'),
      Flag.optional,
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* runDtr({
        ...base(f),
        checkpoint: f.checkpoint,
        ...(Option.isSome(f.mixer) ? { mixer: f.mixer.value } : {}),
      }).pipe(Effect.mapError(userError));
      for (const m of r.models)
        yield* println(
          `${m.label}: linear [${m.replaced.join(', ')}], test ${m.test.toFixed(4)}${m.decode ? `, ${m.decode.tokensPerSecond.toFixed(1)} tok/s` : ''}`,
        );
      yield* println(`report: ${r.reportPath}`);
    }),
).pipe(
  Command.withDescription(
    'Distill-then-Replace: distill a Gated DeltaNet/GLA per attention block of a trained transformer, then replace layers greedily by validation score; reports score vs layers replaced, baselines and decode speedup.',
  ),
);
