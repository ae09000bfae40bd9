import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { ChildProcessExecutor } from '../src/sweep/child-process-executor.js';
import type { SweepResultRow } from '../src/sweep/results.js';
import { SweepStore } from '../src/sweep/sqlite-store.js';
import { runSweepFile } from '../src/sweep/sweep-main.js';
import { bundleSweepProcess, toyRunScript } from './sweep-support/bundle.js';
import { finishesByRun, readLedger } from './sweep-support/ledger.js';

const writeGrid = (dir: string, grid: Record<string, unknown>): string => {
  const path = join(dir, 'grid.json');
  writeFileSync(path, JSON.stringify(grid));
  return path;
};

const toyGrid = (
  dir: string,
  name: string,
  runs: number,
  workMs: number,
  extra: Record<string, unknown> = {},
) =>
  writeGrid(dir, {
    name,
    base: { ledger: join(dir, 'ledger.jsonl'), workMs, seed: 0, optimizer: { lr: 1e-3 }, ...extra },
    axes: { seed: Array.from({ length: runs }, (_, i) => i) },
    executor: { kind: 'command', command: [process.execPath, toyRunScript] },
  });

const readRows = (outDir: string): SweepResultRow[] =>
  readFileSync(join(outDir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SweepResultRow);

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('local sweep, in process', () => {
  test('runs every run through real child processes; retries a failing attempt; gives up after maxAttempts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-'));
    const gridPath = writeGrid(dir, {
      name: 'retry',
      base: { ledger: join(dir, 'ledger.jsonl'), workMs: 50, seed: 0, optimizer: { lr: 1e-3 } },
      axes: {
        'optimizer.lr,failTimes': [
          [1e-3, 0],
          [1e-2, 1],
          [1e-4, 5],
        ],
      },
      executor: { kind: 'command', command: [process.execPath, toyRunScript] },
      maxAttempts: 2,
    });
    const lines: string[] = [];
    const { rows, summary } = await runSweepFile({
      gridPath,
      outDir: join(dir, 'out'),
      log: (l) => lines.push(l),
    });
    expect(summary.counts).toEqual({ pending: 0, running: 0, done: 2, failed: 1 });
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ['done', 1],
      ['done', 2],
      ['failed', 2],
    ]);
    // loss = 2 + (log10(lr) + 3)^2 + 0.01 * seed
    expect(rows[0]!.metrics?.['loss']).toBeCloseTo(2, 12);
    expect(rows[1]!.metrics?.['loss']).toBeCloseTo(3, 12);
    expect(rows[2]!.error).toMatch(/planned failure on attempt 2/);
    expect(readRows(join(dir, 'out'))).toEqual(JSON.parse(JSON.stringify(rows)));
    expect(readFileSync(join(dir, 'out', 'results.md'), 'utf8')).toMatch(
      /\| run \| optimizer.lr \| failTimes \| status \| loss \| steps \|/,
    );
    const firstRun = rows[0]!.id;
    expect(readFileSync(join(dir, 'out', 'runs', firstRun, 'attempt-1', 'run.log'), 'utf8')).toMatch(
      /step 5\/5/,
    );
    expect(lines.some((l) => l.includes('will retry'))).toBe(true);

    // Running the finished sweep again executes nothing.
    const again = await runSweepFile({ gridPath, outDir: join(dir, 'out'), log: () => {} });
    expect(again.summary.executedHere).toBe(0);
    expect(readLedger(join(dir, 'ledger.jsonl')).filter((e) => e.event === 'start')).toHaveLength(1 + 2 + 2);
  });

  test('aborting stops the child and releases the run without counting the attempt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-'));
    const gridPath = toyGrid(dir, 'abort', 1, 10_000);
    const controller = new AbortController();
    const started = Date.now();
    const done = runSweepFile({
      gridPath,
      outDir: join(dir, 'out'),
      log: () => {},
      signal: controller.signal,
    });
    while (readLedger(join(dir, 'ledger.jsonl')).length === 0) await sleep(20);
    controller.abort();
    const { summary, rows } = await done;
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(summary.stopped).toBe(true);
    expect(rows[0]).toMatchObject({ status: 'pending', attempts: 0 });
  });

  test('a child that exits 0 without result.json is a failed attempt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-'));
    const executor = new ChildProcessExecutor({
      command: [process.execPath, '-e', 'console.log("no result")'],
    });
    const run = { id: 'r', index: 0, overrides: {}, config: {} };
    await expect(
      executor.execute(run, {
        attempt: 1,
        slot: 0,
        runDir: dir,
        runRoot: dir,
        signal: new AbortController().signal,
        log: () => {},
      }),
    ).rejects.toThrow(/no readable .*result.json/);
    const crash = new ChildProcessExecutor({
      command: [process.execPath, '-e', 'console.error("bad"); process.exit(4)'],
    });
    await expect(
      crash.execute(run, {
        attempt: 1,
        slot: 0,
        runDir: dir,
        runRoot: dir,
        signal: new AbortController().signal,
        log: () => {},
      }),
    ).rejects.toThrow(/exit code 4.*\n?.*bad/s);
  });
});

describe('local sweep, as a process', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await bundleSweepProcess();
  });

  const startSweep = (gridPath: string, outDir: string, leaseMs: number): ChildProcess =>
    spawn(process.execPath, [bundle, 'local', gridPath, outDir, String(leaseMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  test('SIGKILL mid-sweep, restart: finished runs are not repeated, the interrupted run resumes at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-'));
    const outDir = join(dir, 'out');
    const ledger = join(dir, 'ledger.jsonl');
    const gridPath = toyGrid(dir, 'crash', 6, 600);
    // A long lease: only the dead-owner check can make the restart pick the run up quickly.
    const leaseMs = 120_000;

    const first = startSweep(gridPath, outDir, leaseMs);
    // Kill once two runs finished and the third is in flight.
    for (;;) {
      const entries = readLedger(ledger);
      if (
        entries.filter((e) => e.event === 'end').length >= 2 &&
        entries.filter((e) => e.event === 'start').length >= 3
      )
        break;
      if (first.exitCode !== null) throw new Error('sweep finished before it could be killed');
      await sleep(20);
    }
    first.kill('SIGKILL');
    await exited(first);
    const atKill = readLedger(ledger);
    const finishedBeforeKill = new Set(atKill.filter((e) => e.event === 'end').map((e) => e.runId));
    const inFlight = atKill.filter((e) => e.event === 'start' && !finishedBeforeKill.has(e.runId));
    expect(inFlight).toHaveLength(1);
    const store = new SweepStore(join(outDir, 'sweep.sqlite'));
    expect(store.counts('crash')).toMatchObject({ done: finishedBeforeKill.size, running: 1 });
    store.close();

    const restartedAt = Date.now();
    const second = startSweep(gridPath, outDir, leaseMs);
    let output = '';
    second.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect(await exited(second)).toBe(0);
    expect(Date.now() - restartedAt).toBeLessThan(30_000);
    expect(output).toMatch(/reclaimed from a dead process/);

    const entries = readLedger(ledger);
    const finishes = finishesByRun(entries);
    expect(finishes.size).toBe(6);
    expect([...finishes.values()].every((n) => n === 1)).toBe(true);
    const afterKill = entries.slice(atKill.length);
    for (const id of finishedBeforeKill) expect(afterKill.some((e) => e.runId === id)).toBe(false);
    // The interrupted run came back as attempt 2, and its orphaned attempt-1 process never finished.
    expect(afterKill.find((e) => e.runId === inFlight[0]!.runId && e.event === 'start')?.attempt).toBe(2);
    expect(entries.some((e) => e.pid === inFlight[0]!.pid && e.event === 'end')).toBe(false);
    const rows = readRows(outDir);
    expect(rows.map((r) => r.status)).toEqual(Array(6).fill('done'));
    expect(rows.find((r) => r.id === inFlight[0]!.runId)?.attempts).toBe(2);
  });

  test('two sweep processes on one database share the work without running anything twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-sweep-'));
    const outDir = join(dir, 'out');
    const gridPath = toyGrid(dir, 'shared', 8, 300);
    const a = startSweep(gridPath, outDir, 60_000);
    const b = startSweep(gridPath, outDir, 60_000);
    expect(await Promise.all([exited(a), exited(b)])).toEqual([0, 0]);
    const finishes = finishesByRun(readLedger(join(dir, 'ledger.jsonl')));
    expect(finishes.size).toBe(8);
    expect([...finishes.values()].every((n) => n === 1)).toBe(true);
    const store = new SweepStore(join(outDir, 'sweep.sqlite'));
    const owners = new Set(store.attempts('shared').map((x) => x.owner));
    store.close();
    expect(owners.size).toBe(2);
    expect(existsSync(join(outDir, 'results.jsonl'))).toBe(true);
  });
});
