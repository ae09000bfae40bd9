import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeGridFile, expandGrid, type SweepPlan } from '../src/sweep/grid.js';
import { SweepStore } from '../src/sweep/sqlite-store.js';

const plan = (runs: number, maxAttempts = 2): SweepPlan =>
  expandGrid(
    decodeGridFile({
      name: 'q',
      base: { x: 1 },
      axes: { seed: Array.from({ length: runs }, (_, i) => i) },
      maxAttempts,
    }),
  );

/** A store on a real SQLite file whose clock the test moves by hand (leases are about time). */
const openStore = (path = join(mkdtempSync(join(tmpdir(), 'dynconv-store-')), 'sweep.sqlite')) => {
  let now = 1_000_000;
  const store = new SweepStore(path, () => now);
  return { store, path, advance: (ms: number) => (now += ms) };
};

describe('SweepStore (node:sqlite)', () => {
  test('claims in plan order, one run per claim, until the queue is empty', () => {
    const { store } = openStore();
    const p = plan(3);
    store.registerPlan(p);
    const claimed = [
      store.claim('q', 'w1', 1000),
      store.claim('q', 'w2', 1000),
      store.claim('q', 'w1', 1000),
    ];
    expect(claimed.map((c) => c?.run.id)).toEqual(p.runs.map((r) => r.id));
    expect(claimed.map((c) => c?.attempt)).toEqual([1, 1, 1]);
    expect(claimed[1]!.run.config).toEqual({ x: 1, seed: 1 });
    expect(store.claim('q', 'w3', 1000)).toBeNull();
    expect(store.counts('q')).toEqual({ pending: 0, running: 3, done: 0, failed: 0 });
  });

  test('done runs are final; a failed attempt is retried until maxAttempts', () => {
    const { store } = openStore();
    const p = plan(1, 2);
    store.registerPlan(p);
    const id = p.runs[0]!.id;
    store.claim('q', 'w', 1000);
    expect(store.fail('q', id, 'w', 'boom')).toBe(true);
    expect(store.runs('q')[0]).toMatchObject({ status: 'pending', attempts: 1, error: 'boom' });
    expect(store.claim('q', 'w', 1000)?.attempt).toBe(2);
    store.fail('q', id, 'w', 'boom again');
    expect(store.runs('q')[0]).toMatchObject({ status: 'failed', attempts: 2, error: 'boom again' });
    expect(store.claim('q', 'w', 1000)).toBeNull();
    // Registering again keeps failed runs failed unless asked to retry them.
    store.registerPlan(p);
    expect(store.counts('q').failed).toBe(1);
    store.registerPlan(p, { retryFailed: true });
    const retried = store.claim('q', 'w', 1000);
    expect(retried?.attempt).toBe(1);
    expect(store.complete('q', id, 'w', { metrics: { loss: 1.5, diverged: Number.NaN } })).toBe(true);
    const run = store.runs('q')[0]!;
    expect(run.status).toBe('done');
    expect(run.outcome?.metrics['loss']).toBe(1.5);
    expect(run.outcome?.metrics['diverged']).toBeNaN();
    store.registerPlan(p, { retryFailed: true });
    expect(store.counts('q')).toEqual({ pending: 0, running: 0, done: 1, failed: 0 });
  });

  test('an expired lease re-queues the run; heartbeats keep it; the old owner loses it', () => {
    const { store, advance } = openStore();
    const p = plan(1, 3);
    store.registerPlan(p);
    const id = p.runs[0]!.id;
    store.claim('q', 'alive', 1000);
    advance(800);
    expect(store.heartbeat('q', id, 'alive', 1000)).toBe(true);
    advance(800); // 1600 after the claim, 800 after the heartbeat: still leased
    expect(store.claim('q', 'other', 1000)).toBeNull();
    advance(300); // 1100 after the last heartbeat: expired
    const taken = store.claim('q', 'other', 1000);
    expect(taken?.attempt).toBe(2);
    expect(store.heartbeat('q', id, 'alive', 1000)).toBe(false);
    expect(store.complete('q', id, 'alive', { metrics: { loss: 9 } })).toBe(false);
    expect(store.complete('q', id, 'other', { metrics: { loss: 1 } })).toBe(true);
    expect(store.runs('q')[0]!.outcome?.metrics).toEqual({ loss: 1 });
    expect(store.attempts('q').map((a) => [a.owner, a.status])).toEqual([
      ['alive', 'lost'],
      ['other', 'done'],
    ]);
  });

  test('a lease that expires on the last attempt fails the run', () => {
    const { store, advance } = openStore();
    const p = plan(1, 1);
    store.registerPlan(p);
    store.claim('q', 'w', 1000);
    advance(2000);
    expect(store.claim('q', 'w2', 1000)).toBeNull();
    expect(store.runs('q')[0]).toMatchObject({
      status: 'failed',
      error: 'lease expired on the last attempt',
    });
  });

  test('release gives a run back without counting the attempt', () => {
    const { store } = openStore();
    const p = plan(1);
    store.registerPlan(p);
    store.claim('q', 'w', 1000);
    store.release('q', p.runs[0]!.id, 'w');
    expect(store.runs('q')[0]).toMatchObject({ status: 'pending', attempts: 0 });
  });

  test('runs owned by a dead process on this machine are reclaimed at once', () => {
    const { store } = openStore();
    const p = plan(2);
    store.registerPlan(p);
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!; // a pid that has exited
    store.claim('q', `${hostname()}:${dead}:x`, 60_000);
    store.claim('q', `${hostname()}:${process.pid}:y`, 60_000);
    expect(store.reclaimDeadLocalOwners('q')).toBe(1);
    const next = store.claim('q', 'fresh', 60_000);
    expect(next?.run.id).toBe(p.runs[0]!.id);
    expect(next?.attempt).toBe(2);
  });

  test('interleaved claims from two connections to one file never overlap', () => {
    const a = openStore();
    const b = openStore(a.path);
    const p = plan(20);
    a.store.registerPlan(p);
    const seen: string[] = [];
    for (;;) {
      const x = a.store.claim('q', 'a', 60_000);
      const y = b.store.claim('q', 'b', 60_000);
      if (x) seen.push(x.run.id);
      if (y) seen.push(y.run.id);
      if (!x && !y) break;
    }
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
  });
});
