import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abortError, type RunContext, type RunExecutor, type RunOutcome } from './executor.js';
import type { PlannedRun } from './grid.js';
import { spawnSupervised } from './supervised-spawn.js';

/** Grace period between SIGTERM and SIGKILL when a run is aborted. */
const KILL_GRACE_MS = 5_000;

export interface ChildProcessExecutorOptions {
  /** Program and arguments, e.g. `['dynconv', 'train']` or `['node', 'run.mjs']`. */
  readonly command: readonly [string, ...string[]];
  readonly cwd?: string;
  /** Extra environment variables (on top of this process's environment). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs each run as a child process, the protocol any program can follow:
 *
 * - environment: `DYNCONV_RUN_ID`, `DYNCONV_RUN_CONFIG` (path of the resolved
 *   config JSON), `DYNCONV_RUN_DIR` (the attempt's folder), `DYNCONV_RUN_ATTEMPT`,
 *   `DYNCONV_RUN_SLOT` (local GPU slot);
 * - success: exit code 0 and `$DYNCONV_RUN_DIR/result.json` holding
 *   `{"metrics": {name: number}, "details"?: any}`;
 * - stdout/stderr go to `$DYNCONV_RUN_DIR/run.log`;
 * - the command dies with the sweep process (even when that is SIGKILLed),
 *   through a watchdog (`spawnSupervised`), so a re-queued run never races a
 *   leftover copy of itself.
 */
export class ChildProcessExecutor implements RunExecutor {
  readonly name: string;
  constructor(private readonly options: ChildProcessExecutorOptions) {
    this.name = `command:${options.command.join(' ')}`;
  }

  execute(run: PlannedRun, context: RunContext): Promise<RunOutcome> {
    const { runDir, signal } = context;
    if (signal.aborted) return Promise.reject(abortError(signal));
    mkdirSync(runDir, { recursive: true });
    const configPath = join(runDir, 'config.json');
    writeFileSync(configPath, `${JSON.stringify(run.config, null, 2)}\n`);
    const logStream = createWriteStream(join(runDir, 'run.log'), { flags: 'a' });
    const [program, ...args] = this.options.command;

    return new Promise<RunOutcome>((resolve, reject) => {
      const child = spawnSupervised(program, args, {
        cwd: this.options.cwd ?? process.cwd(),
        env: {
          ...process.env,
          ...this.options.env,
          DYNCONV_RUN_ID: run.id,
          DYNCONV_RUN_CONFIG: configPath,
          DYNCONV_RUN_DIR: runDir,
          DYNCONV_RUN_ATTEMPT: String(context.attempt),
          DYNCONV_RUN_SLOT: String(context.slot),
        },
      });
      let stderrTail = '';
      let pending = '';
      child.stdout.on('data', (chunk: Buffer) => {
        logStream.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') context.log(line);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        logStream.write(chunk);
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2_000);
      });
      // A run that exits without reading stdin must not crash us with EPIPE.
      child.stdin.on('error', () => {});

      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      signal.addEventListener('abort', onAbort, { once: true });

      child.on('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        logStream.end();
        reject(new Error(`cannot start ${program}: ${error.message}`));
      });
      child.on('close', (code, killSignal) => {
        signal.removeEventListener('abort', onAbort);
        if (killTimer) clearTimeout(killTimer);
        logStream.end();
        if (signal.aborted) return reject(abortError(signal));
        if (code !== 0) {
          const how = killSignal ? `killed by ${killSignal}` : `exit code ${code}`;
          return reject(
            new Error(`run ${run.id} failed (${how}): ${stderrTail.trim().split('\n').slice(-5).join('\n')}`),
          );
        }
        try {
          resolve(readOutcome(join(runDir, 'result.json')));
        } catch (error) {
          reject(error);
        }
      });
    });
  }
}

/** Reads and checks a `result.json` written by a run. */
export const readOutcome = (path: string): RunOutcome => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(
      `run wrote no readable ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const metrics = (parsed as { metrics?: unknown } | null)?.metrics;
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new Error(`${path}: "metrics" must be an object of numbers`);
  }
  const numbers: Record<string, number> = {};
  for (const [key, value] of Object.entries(metrics)) {
    // JSON has no NaN: a diverged run writes null, which reads back as NaN.
    if (value === null) numbers[key] = Number.NaN;
    else if (typeof value === 'number') numbers[key] = value;
    else throw new Error(`${path}: metric "${key}" is not a number`);
  }
  const details = (parsed as { details?: unknown }).details;
  return details === undefined ? { metrics: numbers } : { metrics: numbers, details };
};
