import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Effect } from 'effect';
import { listCheckpoints } from '../checkpoint/checkpoint-io.js';
import type { EndRecord, EvalRecord, MetricRecord, StartRecord } from '../metrics/records.js';
import { METRICS_FILE } from '../train/run-dir.js';
import { abortError, type RunContext, type RunExecutor, type RunOutcome } from './executor.js';
import type { PlannedRun } from './grid.js';
import { spawnSupervised } from './supervised-spawn.js';
import { TRAIN_DIR } from './trainer-executor.js';

/** Grace period between SIGTERM (the trainer checkpoints on interrupt) and SIGKILL. */
const KILL_GRACE_MS = 30_000;

/** The outcome of a `dynconv train` run, from its `metrics.jsonl`. */
export const outcomeFromMetrics = (records: readonly MetricRecord[], runDir: string): RunOutcome => {
  const start = records.find((r): r is StartRecord => r.type === 'start');
  const end = [...records].reverse().find((r): r is EndRecord => r.type === 'end');
  if (!end) throw new Error(`${runDir}: the run wrote no end record`);
  if (end.reason !== 'completed')
    throw new Error(`${runDir}: the run ended ${end.reason} at step ${end.step}`);
  const evals = records.filter((r): r is EvalRecord => r.type === 'eval');
  const final = evals[evals.length - 1];
  const best = evals.reduce<EvalRecord | null>((b, e) => (b === null || e.loss < b.loss ? e : b), null);
  const metrics: Record<string, number> = {
    steps: end.step,
    tokensPerSec: end.tokensPerSec,
    seconds: end.elapsedMs / 1000,
    skippedSteps: records.filter((r) => r.type === 'skip').length,
  };
  if (start) metrics['parameters'] = start.parameters;
  if (final) {
    metrics['evalLoss'] = final.loss;
    metrics['evalPerplexity'] = final.perplexity;
    metrics['evalAccuracy'] = final.accuracy;
  }
  if (best) {
    metrics['bestEvalLoss'] = best.loss;
    metrics['bestEvalStep'] = best.step;
    metrics['bestEvalAccuracy'] = Math.max(...evals.map((e) => e.accuracy));
  }
  return { metrics, details: { runDir, reason: end.reason } };
};

/**
 * Runs each run as its own `dynconv train` process (the CLI given by
 * `command`, e.g. `[node, dynconv.mjs]`): crash isolation, fresh GPU memory
 * per run, and real parallelism across runs — small models are bound by the
 * host's kernel dispatch, which one process cannot spread over cores. All
 * attempts of a run share `<runRoot>/train`; an attempt after a crash
 * resumes from the last checkpoint. The process dies with the sweep.
 */
export class TrainerProcessExecutor implements RunExecutor {
  readonly name = 'trainer-process';
  constructor(private readonly command: readonly [string, ...string[]]) {}

  async execute(run: PlannedRun, context: RunContext): Promise<RunOutcome> {
    if (context.signal.aborted) throw abortError(context.signal);
    const trainDir = join(context.runRoot, TRAIN_DIR);
    const checkpoints = await Effect.runPromise(listCheckpoints(join(trainDir, 'checkpoints')));
    // Without a checkpoint an earlier attempt left nothing to resume (and a stale log).
    if (checkpoints.length === 0) rmSync(trainDir, { recursive: true, force: true });
    mkdirSync(context.runDir, { recursive: true });
    const configFile = join(context.runDir, 'run-config.json');
    writeFileSync(configFile, `${JSON.stringify(run.config, null, 2)}\n`);
    const trainArgs =
      checkpoints.length > 0
        ? ['train', '--resume', trainDir, '--quiet']
        : ['train', '--config', configFile, '--run-dir', trainDir, '--quiet'];
    const [program, ...prefix] = this.command;
    const log = createWriteStream(join(context.runDir, 'run.log'), { flags: 'a' });
    const child = spawnSupervised(program, [...prefix, ...trainArgs], {
      cwd: process.cwd(),
      env: { ...process.env, DYNCONV_RUN_ID: run.id, DYNCONV_RUN_SLOT: String(context.slot) },
    });
    child.stdin.on('error', () => {});
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      log.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-2_000);
    });
    const onAbort = () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    }).finally(() => {
      context.signal.removeEventListener('abort', onAbort);
      log.end();
    });
    if (context.signal.aborted) throw abortError(context.signal);
    if (code !== 0)
      throw new Error(`dynconv train exited with ${code}: ${tail.trim().split('\n').slice(-5).join('\n')}`);
    const metricsPath = join(trainDir, METRICS_FILE);
    if (!existsSync(metricsPath)) throw new Error(`${metricsPath} is missing`);
    const records = readFileSync(metricsPath, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as MetricRecord);
    return outcomeFromMetrics(records, trainDir);
  }
}
