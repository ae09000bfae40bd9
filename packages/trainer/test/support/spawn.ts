import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Node flags that run this repository's TypeScript sources directly. */
export const tsNodeArgs = [
  '--experimental-transform-types',
  '--no-warnings',
  '--conditions=@dynconv/source',
  '--import',
  join(here, 'register-ts.mjs'),
];

/** Starts the child training run (`child.ts`). */
export const spawnChildRun = (args: readonly string[]): ChildProcess =>
  spawn(process.execPath, [...tsNodeArgs, join(here, 'child.ts'), ...args], {
    cwd: here,
    env: { ...process.env, EGL_PLATFORM: 'surfaceless' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** Resolves with the exit code (or signal) and the collected output. */
export const finished = (
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
