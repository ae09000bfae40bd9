// The process entry the sweep tests spawn (bundled with esbuild): the same
// functions `dynconv sweep` / `dynconv sweep-runner` call, in a real process
// that a test can SIGKILL.
//   local  <grid> <outDir> <leaseMs>
//   runner <postgresUrl> <port> <outDir>
//   submit <grid> <postgresUrl> <outDir>
import { NodeRuntime } from '@effect/platform-node';
import { Effect } from 'effect';
import { launchSweepRunner } from '../../src/sweep/cluster/runner.js';
import { submitSweep } from '../../src/sweep/cluster/submit.js';
import { makeExecutor } from '../../src/sweep/executor-factory.js';
import { loadGridFile } from '../../src/sweep/grid.js';
import { runSweepFile, writeSweepResults } from '../../src/sweep/sweep-main.js';

const [mode, ...args] = process.argv.slice(2);
const fast = {
  shardLockRefreshInterval: '1 second',
  shardLockExpiration: '4 seconds',
  refreshAssignmentsInterval: '1 second',
  runnerHealthCheckInterval: '1 second',
  entityMessagePollInterval: '300 millis',
  entityReplyPollInterval: '200 millis',
} as const;

if (mode === 'local') {
  const [gridPath, outDir, leaseMs] = args as [string, string, string];
  await runSweepFile({ gridPath, outDir, leaseMs: Number(leaseMs) });
} else if (mode === 'runner') {
  const [postgresUrl, port, outDir] = args as [string, string, string];
  launchSweepRunner({
    postgresUrl,
    host: '127.0.0.1',
    port: Number(port),
    outDir,
    executorFor: makeExecutor,
    tuning: fast,
    log: (line) => console.log(line),
  }).pipe(NodeRuntime.runMain);
} else if (mode === 'submit') {
  const [gridPath, postgresUrl, outDir] = args as [string, string, string];
  const plan = loadGridFile(gridPath);
  submitSweep(plan, {
    postgresUrl,
    pollInterval: '300 millis',
    tuning: fast,
    onProgress: (n, total, row) => console.log(`${n}/${total} ${row.id} ${row.status} ${row.runner ?? ''}`),
  }).pipe(
    Effect.map((rows) => writeSweepResults(outDir, rows)),
    Effect.tap((path) => Effect.sync(() => console.log(`results ${path}`))),
    NodeRuntime.runMain,
  );
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
