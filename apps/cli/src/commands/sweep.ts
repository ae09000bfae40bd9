import { resolve } from 'node:path';
import {
  defaultSweepDir,
  launchSweepRunner,
  loadGridFile,
  makeExecutor,
  runSweepFile,
  submitSweep,
  writeSweepResults,
} from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Argument, CliError, Command, Flag } from 'effect/cli';
import { eprintln, println } from '../output.js';

const userError = (error: unknown) =>
  new CliError.UserError({
    cause: error,
    userMessage: error instanceof Error ? error.message : String(error),
  });

/** `dynconv sweep <grid>` */
export const sweepCommand = Command.make(
  'sweep',
  {
    grid: Argument.String('grid').pipe(
      Argument.withDescription('Grid file (JSON): { name, base, axes, executor?, maxAttempts? }'),
    ),
    out: Flag.String('out').pipe(
      Flag.withAlias('o'),
      Flag.withDescription('Sweep folder (default runs/sweeps/<name>)'),
      Flag.optional,
    ),
    slots: Flag.Int('slots').pipe(
      Flag.withDescription('Runs at once on this machine (one per local GPU)'),
      Flag.withDefault(1),
    ),
    lease: Flag.Int('lease-seconds').pipe(
      Flag.withDescription('A run whose process stops heartbeating for this long goes back to the queue'),
      Flag.withDefault(60),
    ),
    retryFailed: Flag.Boolean('retry-failed').pipe(
      Flag.withDescription('Queue runs that exhausted their attempts again'),
      Flag.withDefault(false),
    ),
    cluster: Flag.String('cluster').pipe(
      Flag.withDescription(
        'postgres://… of an effect/cluster deployment: submit the runs to its runners (dynconv sweep-runner) instead of running here',
      ),
      Flag.optional,
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const cluster = Option.getOrUndefined(f.cluster);
      if (cluster === undefined) {
        const controller = new AbortController();
        const stop = () => controller.abort(new Error('interrupted'));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const { summary } = yield* Effect.tryPromise({
          try: () =>
            runSweepFile({
              gridPath: f.grid,
              ...(Option.isSome(f.out) ? { outDir: f.out.value } : {}),
              // In-process runs would share one thread: several at once get a `dynconv train` process each.
              ...(f.slots > 1 && loadGridFile(f.grid).executor.kind === 'trainer'
                ? { executor: makeExecutor({ kind: 'trainer-process' }) }
                : {}),
              slots: f.slots,
              leaseMs: f.lease * 1000,
              retryFailed: f.retryFailed,
              signal: controller.signal,
              log: (line) => process.stderr.write(`${line}\n`),
            }),
          catch: userError,
        });
        if (summary.stopped) yield* eprintln('Stopped. Run the same command again to resume.');
        if (summary.counts.failed > 0)
          return yield* Effect.fail(userError(new Error(`${summary.counts.failed} run(s) failed`)));
        return;
      }
      const plan = yield* Effect.try({ try: () => loadGridFile(f.grid), catch: userError });
      const outDir = Option.getOrElse(f.out, () => defaultSweepDir(plan));
      yield* eprintln(`sweep "${plan.name}": submitting ${plan.runs.length} runs to the cluster`);
      const rows = yield* submitSweep(plan, {
        postgresUrl: cluster,
        onProgress: (n, total, row) =>
          process.stderr.write(`[${n}/${total}] ${row.id} ${row.status} on ${row.runner ?? '?'}\n`),
      }).pipe(Effect.mapError(userError));
      yield* println(`results: ${resolve(writeSweepResults(outDir, rows))}`);
    }),
).pipe(
  Command.withDescription(
    'Expand a grid of run configs and run it: locally by default (SQLite state in the sweep folder, resumable after a crash), or on an effect/cluster of runners with --cluster.',
  ),
  Command.withExamples([
    { command: 'dynconv sweep grid.json', description: 'Run every grid point here; run it again to resume' },
    {
      command: 'dynconv sweep grid.json --cluster postgres://user@db:5432/dynconv',
      description: 'Submit to the runners',
    },
  ]),
);

/** `dynconv sweep-runner` */
export const sweepRunnerCommand = Command.make(
  'sweep-runner',
  {
    postgres: Flag.String('postgres').pipe(Flag.withDescription('postgres://… URL of the cluster storage')),
    host: Flag.String('host').pipe(
      Flag.withDescription('Address other runners reach this one at'),
      Flag.withDefault('localhost'),
    ),
    port: Flag.Int('port').pipe(Flag.withDescription('Runner port'), Flag.withDefault(34431)),
    listenHost: Flag.String('listen-host').pipe(
      Flag.withDescription('Bind address (default --host)'),
      Flag.optional,
    ),
    slots: Flag.Int('slots').pipe(
      Flag.withDescription('Runs at once on this machine (one per GPU)'),
      Flag.withDefault(1),
    ),
    out: Flag.String('out').pipe(
      Flag.withDescription('Folder for run outputs on this machine'),
      Flag.withDefault('runs/sweeps'),
    ),
  },
  (f) =>
    launchSweepRunner({
      postgresUrl: f.postgres,
      host: f.host,
      port: f.port,
      ...(Option.isSome(f.listenHost) ? { listenHost: f.listenHost.value } : {}),
      slots: f.slots,
      outDir: f.out,
      executorFor: (spec) => makeExecutor(spec),
      log: (line) => process.stderr.write(`${line}\n`),
    }).pipe(Effect.mapError(userError)),
).pipe(
  Command.withDescription(
    'Run sweeps submitted with `dynconv sweep --cluster`: one runner per GPU machine, PostgreSQL as the cluster storage. Runs of a runner that dies are picked up by the others.',
  ),
);
