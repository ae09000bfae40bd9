import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `bin/dynconv.mjs`, the installed entry point (it imports the bundle). */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'dynconv.mjs');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts `dynconv <args>` in `cwd`. */
export const start = (args: readonly string[], cwd: string): ChildProcess =>
  spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, EGL_PLATFORM: 'surfaceless' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** Collects a started process's output until it exits. */
export const collect = (child: ChildProcess, onOutput?: (all: string) => void): Promise<CliResult> =>
  new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
      onOutput?.(stdout + stderr);
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
      onOutput?.(stdout + stderr);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });

/** Runs `dynconv <args>` to completion. */
export const dynconv = (args: readonly string[], cwd: string): Promise<CliResult> =>
  collect(start(args, cwd));

export const tempDir = (): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), 'dynconv-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
};

/** Shrinks any MQAR preset to a tiny, fast run on the CPU backend (flags for `dynconv train`). */
export const TINY = [
  '--device',
  'cpu',
  '--set',
  'model.config.dModel=16',
  '--set',
  'model.config.nHeads=1',
  '--set',
  'model.config.nLayers=1',
  '--set',
  'model.config.mlpHidden=16',
  '--set',
  'model.config.dsc.rank=2',
  '--set',
  'batch.size=2',
  '--set',
  'batch.seqLen=16',
  '--set',
  'data.vocabSize=32',
  '--set',
  'model.config.vocabSize=32',
  '--set',
  'data.numKvPairs=2',
  '--set',
  'data.evalExamples=8',
];
