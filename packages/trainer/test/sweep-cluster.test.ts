import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SweepResultRow } from '../src/sweep/results.js';
import { bundleSweepProcess, toyRunScript } from './sweep-support/bundle.js';
import { finishesByRun, readLedger } from './sweep-support/ledger.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from './sweep-support/postgres.js';

/** A spawned process whose output we keep, to read what it said. */
interface Proc {
  readonly child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

const spawnProc = (args: readonly string[]): Proc => {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = {
    child,
    output: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
  return proc;
};

const waitFor = async (what: string, condition: () => boolean, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** Run ids a runner started, from its log lines `run <id> (#i) attempt n on <runner> slot s`. */
const startedBy = (proc: Proc): string[] =>
  [...proc.output.matchAll(/^run ([0-9a-f]{16}) /gm)].map((m) => m[1]!);

describe('sweep on effect/cluster with PostgreSQL', () => {
  let postgres: ThrowawayPostgres;
  let bundle: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    [postgres, bundle] = await Promise.all([startThrowawayPostgres(), bundleSweepProcess()]);
  }, 180_000);

  afterAll(async () => {
    for (const proc of procs) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    postgres?.stop();
  });

  test('two runner processes; one is SIGKILLed mid-sweep and the other completes its runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-cluster-'));
    const ledger = join(dir, 'ledger.jsonl');
    const gridPath = join(dir, 'grid.json');
    writeFileSync(
      gridPath,
      JSON.stringify({
        name: 'cluster-toy',
        base: { ledger, workMs: 1500, seed: 0, optimizer: { lr: 1e-3 } },
        axes: { seed: [0, 1, 2, 3, 4, 5] },
        executor: { kind: 'command', command: [process.execPath, toyRunScript] },
      }),
    );
    const base = 34_000 + Math.floor(Math.random() * 10_000);
    const ports = [base, base + 1] as const;
    const runners = ports.map((port) => {
      const proc = spawnProc([bundle, 'runner', postgres.url, String(port), join(dir, 'runs')]);
      procs.push(proc);
      return proc;
    });
    await waitFor(
      'both runners listening',
      () => runners.every((r) => /Listening on/.test(r.output)),
      60_000,
    );

    const submit = spawnProc([bundle, 'submit', gridPath, postgres.url, join(dir, 'out')]);
    procs.push(submit);

    // Runs are placed on runners by shard (hash of the run id), so which runner gets work varies:
    // the victim is whichever runner first has a run in flight (started, not finished).
    const inFlightOn = (proc: Proc) => {
      const ended = finishesByRun(readLedger(ledger));
      return startedBy(proc).some((id) => !ended.has(id));
    };
    await waitFor('a run in flight', () => runners.some(inFlightOn), 90_000).catch((error: Error) => {
      throw new Error(
        `${error.message}\n--- submit:\n${submit.output.slice(-1500)}\n--- runners:\n${runners.map((r) => r.output.slice(-1500)).join('\n---\n')}`,
      );
    });
    const victimIndex = inFlightOn(runners[0]!) ? 0 : 1;
    const victim = runners[victimIndex]!;
    const survivor = runners[1 - victimIndex]!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const finishedAtKill = finishesByRun(readLedger(ledger));
    const victimUnfinished = [...new Set(startedBy(victim))].filter((id) => !finishedAtKill.has(id));
    expect(victimUnfinished.length).toBeGreaterThan(0);

    expect(await submit.exited).toBe(0);
    const rows = readFileSync(join(dir, 'out', 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SweepResultRow);
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.status === 'done')).toBe(true);
    const victimName = `-${ports[victimIndex]}`;
    const survivorName = `-${ports[1 - victimIndex]}`;
    // Every run the victim left unfinished was completed by the survivor.
    for (const id of victimUnfinished) {
      expect(rows.find((r) => r.id === id)?.runner?.endsWith(survivorName)).toBe(true);
      expect(startedBy(survivor)).toContain(id);
    }
    // Runs the victim finished were not redone.
    for (const row of rows)
      if (row.runner?.endsWith(victimName)) expect(startedBy(survivor)).not.toContain(row.id);
    // Each run finished exactly once, with the right numbers.
    const finishes = finishesByRun(readLedger(ledger));
    expect([...finishes.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
    expect([...finishes.values()].every((n) => n === 1)).toBe(true);
    for (const row of rows) {
      expect(row.metrics?.['loss']).toBeCloseTo(2 + 0.01 * Number(row.overrides['seed']), 12);
    }

    // Submitting the finished sweep again joins the stored results: nothing runs.
    const ledgerLines = readLedger(ledger).length;
    const again = spawnProc([bundle, 'submit', gridPath, postgres.url, join(dir, 'out-again')]);
    procs.push(again);
    expect(await again.exited).toBe(0);
    expect(readLedger(ledger)).toHaveLength(ledgerLines);
    expect(readFileSync(join(dir, 'out-again', 'results.jsonl'), 'utf8')).toBe(
      readFileSync(join(dir, 'out', 'results.jsonl'), 'utf8'),
    );
  }, 240_000);
});
