import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

/**
 * The watchdog: runs the real command as its child, passes its output
 * through, forwards SIGTERM/SIGINT, and kills it as soon as its own stdin
 * (a pipe held by the sweep process) reaches end-of-file — which happens when
 * the sweep process dies, even by SIGKILL. Without it a killed sweep would
 * leave its training runs running, and a retry would collide with them.
 */
const WATCHDOG = `
const { spawn } = require('node:child_process');
const [program, ...args] = JSON.parse(process.env.DYNCONV_SUPERVISED_COMMAND);
const child = spawn(program, args, { stdio: ['ignore', 'inherit', 'inherit'] });
process.stdin.on('end', () => { child.kill('SIGKILL'); process.exit(137); });
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('error', (e) => { console.error(e.message); process.exit(127); });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
`;

/**
 * Spawns `program args` so that it dies with this process (see WATCHDOG).
 * The returned process is the watchdog: its stdout/stderr carry the
 * command's, its exit code is the command's, and signals sent to it reach
 * the command.
 */
export const spawnSupervised = (
  program: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv },
): ChildProcessWithoutNullStreams =>
  spawn(process.execPath, ['-e', WATCHDOG], {
    cwd: options.cwd,
    env: { ...options.env, DYNCONV_SUPERVISED_COMMAND: JSON.stringify([program, ...args]) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
