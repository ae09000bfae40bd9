import { hostname } from 'node:os';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { RunOutcome } from './executor.js';
import type { PlannedRun, SweepPlan } from './grid.js';

/** Lifecycle of a run in the queue. */
export type RunStatus = 'pending' | 'running' | 'done' | 'failed';

/** A run as stored. */
export interface StoredRun {
  readonly sweep: string;
  readonly id: string;
  readonly index: number;
  readonly config: Record<string, unknown>;
  readonly overrides: Record<string, unknown>;
  readonly status: RunStatus;
  readonly attempts: number;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: number | null;
  readonly heartbeatAt: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly outcome: RunOutcome | null;
  readonly error: string | null;
}

/** A run handed to a worker, with the attempt number it runs as. */
export interface ClaimedRun {
  readonly run: PlannedRun;
  readonly attempt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sweeps (
  name         TEXT PRIMARY KEY,
  grid_json    TEXT NOT NULL,
  max_attempts INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  sweep            TEXT NOT NULL REFERENCES sweeps(name),
  run_id           TEXT NOT NULL,
  idx              INTEGER NOT NULL,
  config_json      TEXT NOT NULL,
  overrides_json   TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  heartbeat_at     INTEGER,
  started_at       INTEGER,
  finished_at      INTEGER,
  outcome_json     TEXT,
  error            TEXT,
  PRIMARY KEY (sweep, run_id)
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (sweep, status, idx);
CREATE TABLE IF NOT EXISTS attempts (
  sweep      TEXT NOT NULL,
  run_id     TEXT NOT NULL,
  attempt    INTEGER NOT NULL,
  owner      TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at   INTEGER,
  status     TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'lost', 'released')),
  error      TEXT,
  PRIMARY KEY (sweep, run_id, attempt)
);
`;

/** `host:pid:nonce`: unique per process; host and pid let a restart on the same machine spot dead owners. */
export const makeOwnerId = (): string =>
  `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

const isLocalOwnerDead = (owner: string): boolean => {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

type Row = Record<string, SQLInputValue>;

/**
 * The durable state of local sweeps: one SQLite file (WAL mode, so several
 * worker processes may share it) holding every run's status, lease, attempts
 * and outcome. Leases make crashes recoverable: a run whose lease is not
 * renewed by heartbeats goes back to the queue.
 */
export class SweepStore {
  private readonly db: DatabaseSync;

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.db = new DatabaseSync(path, { timeout: 10_000, enableForeignKeyConstraints: true });
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in a write transaction taken up front, so two processes never claim the same run. */
  private transaction<A>(fn: () => A): A {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /**
   * Records a sweep and queues its runs. Idempotent: runs already known keep
   * their status (finished runs are never repeated); runs new to the plan are
   * added as pending. Runs that exhausted their attempts are re-queued only
   * when `retryFailed` is set.
   */
  registerPlan(plan: SweepPlan, options: { readonly retryFailed?: boolean } = {}): void {
    const now = this.now();
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sweeps (name, grid_json, max_attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET grid_json = excluded.grid_json,
             max_attempts = excluded.max_attempts, updated_at = excluded.updated_at`,
        )
        .run(plan.name, plan.gridJson, plan.maxAttempts, now, now);
      const insert = this.db.prepare(
        `INSERT INTO runs (sweep, run_id, idx, config_json, overrides_json, status)
         VALUES (?, ?, ?, ?, ?, 'pending')
         ON CONFLICT (sweep, run_id) DO UPDATE SET idx = excluded.idx`,
      );
      for (const run of plan.runs) {
        insert.run(plan.name, run.id, run.index, JSON.stringify(run.config), JSON.stringify(run.overrides));
      }
      if (options.retryFailed) {
        this.db
          .prepare(
            `UPDATE runs SET status = 'pending', attempts = 0, error = NULL WHERE sweep = ? AND status = 'failed'`,
          )
          .run(plan.name);
      }
    });
  }

  /**
   * Expires the leases of runs whose owner was a process on this machine that
   * no longer exists, so a sweep restarted after a crash resumes at once
   * instead of waiting for the leases to time out. Returns how many.
   */
  reclaimDeadLocalOwners(sweep: string): number {
    const rows = this.db
      .prepare(`SELECT run_id, lease_owner FROM runs WHERE sweep = ? AND status = 'running'`)
      .all(sweep) as Array<{ run_id: string; lease_owner: string | null }>;
    let reclaimed = 0;
    for (const row of rows) {
      if (row.lease_owner === null || !isLocalOwnerDead(row.lease_owner)) continue;
      reclaimed += Number(
        this.db
          .prepare(`UPDATE runs SET lease_expires_at = 0 WHERE sweep = ? AND run_id = ? AND lease_owner = ?`)
          .run(sweep, row.run_id, row.lease_owner).changes,
      );
    }
    return reclaimed;
  }

  /**
   * Atomically takes the next runnable run (pending, or running with an
   * expired lease) for `owner`, in plan order. A run whose lease expired on
   * its last allowed attempt is marked failed instead. `null` when nothing is
   * runnable right now.
   */
  claim(sweep: string, owner: string, leaseMs: number): ClaimedRun | null {
    const now = this.now();
    return this.transaction(() => {
      const maxAttempts = this.maxAttempts(sweep);
      for (;;) {
        const row = this.db
          .prepare(
            `SELECT * FROM runs WHERE sweep = ?
               AND (status = 'pending' OR (status = 'running' AND lease_expires_at < ?))
             ORDER BY idx LIMIT 1`,
          )
          .get(sweep, now) as Row | undefined;
        if (row === undefined) return null;
        const runId = String(row['run_id']);
        const attempts = Number(row['attempts']);
        if (row['status'] === 'running') {
          this.endAttempt(sweep, runId, attempts, 'lost', 'lease expired (worker crashed or stalled)');
          if (attempts >= maxAttempts) {
            this.db
              .prepare(
                `UPDATE runs SET status = 'failed', lease_owner = NULL, finished_at = ?,
                   error = 'lease expired on the last attempt' WHERE sweep = ? AND run_id = ?`,
              )
              .run(now, sweep, runId);
            continue;
          }
        }
        const attempt = attempts + 1;
        this.db
          .prepare(
            `UPDATE runs SET status = 'running', attempts = ?, lease_owner = ?, lease_expires_at = ?,
               heartbeat_at = ?, started_at = ?, error = NULL WHERE sweep = ? AND run_id = ?`,
          )
          .run(attempt, owner, now + leaseMs, now, now, sweep, runId);
        this.db
          .prepare(
            `INSERT OR REPLACE INTO attempts (sweep, run_id, attempt, owner, started_at, status)
             VALUES (?, ?, ?, ?, ?, 'running')`,
          )
          .run(sweep, runId, attempt, owner, now);
        return { run: rowToPlanned(row), attempt };
      }
    });
  }

  /** Renews a lease. `false` means the lease was lost (another worker took the run): stop it. */
  heartbeat(sweep: string, runId: string, owner: string, leaseMs: number): boolean {
    const now = this.now();
    const result = this.db
      .prepare(
        `UPDATE runs SET heartbeat_at = ?, lease_expires_at = ?
         WHERE sweep = ? AND run_id = ? AND lease_owner = ? AND status = 'running'`,
      )
      .run(now, now + leaseMs, sweep, runId, owner);
    return Number(result.changes) === 1;
  }

  /** Records success; ignored (returns false) if `owner` no longer holds the run. */
  complete(sweep: string, runId: string, owner: string, outcome: RunOutcome): boolean {
    const now = this.now();
    return this.transaction(() => {
      const result = this.db
        .prepare(
          `UPDATE runs SET status = 'done', outcome_json = ?, finished_at = ?, lease_owner = NULL,
             lease_expires_at = NULL, error = NULL
           WHERE sweep = ? AND run_id = ? AND lease_owner = ? AND status = 'running'`,
        )
        .run(JSON.stringify(outcome, nanToNull), now, sweep, runId, owner);
      const held = Number(result.changes) === 1;
      if (held) this.endAttempt(sweep, runId, this.attemptsOf(sweep, runId), 'done', null);
      return held;
    });
  }

  /**
   * Records a failed attempt: back to pending while attempts remain, else
   * failed. Ignored (returns false) if `owner` no longer holds the run.
   */
  fail(sweep: string, runId: string, owner: string, error: string): boolean {
    const now = this.now();
    return this.transaction(() => {
      const attempts = this.attemptsOf(sweep, runId);
      const status: RunStatus = attempts >= this.maxAttempts(sweep) ? 'failed' : 'pending';
      const result = this.db
        .prepare(
          `UPDATE runs SET status = ?, error = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
           WHERE sweep = ? AND run_id = ? AND lease_owner = ? AND status = 'running'`,
        )
        .run(status, error, status === 'failed' ? now : null, sweep, runId, owner);
      const held = Number(result.changes) === 1;
      if (held) this.endAttempt(sweep, runId, attempts, 'failed', error);
      return held;
    });
  }

  /** Gives a run back untouched (graceful shutdown): pending again, the attempt not counted. */
  release(sweep: string, runId: string, owner: string): void {
    this.transaction(() => {
      const attempts = this.attemptsOf(sweep, runId);
      const result = this.db
        .prepare(
          `UPDATE runs SET status = 'pending', attempts = MAX(attempts - 1, 0), lease_owner = NULL,
             lease_expires_at = NULL WHERE sweep = ? AND run_id = ? AND lease_owner = ? AND status = 'running'`,
        )
        .run(sweep, runId, owner);
      if (Number(result.changes) === 1) this.endAttempt(sweep, runId, attempts, 'released', null);
    });
  }

  /** Every run of a sweep, in plan order. */
  runs(sweep: string): StoredRun[] {
    const rows = this.db.prepare(`SELECT * FROM runs WHERE sweep = ? ORDER BY idx`).all(sweep) as Row[];
    return rows.map(rowToStored);
  }

  /** Counts by status. */
  counts(sweep: string): Record<RunStatus, number> {
    const counts: Record<RunStatus, number> = { pending: 0, running: 0, done: 0, failed: 0 };
    const rows = this.db
      .prepare(`SELECT status, COUNT(*) AS n FROM runs WHERE sweep = ? GROUP BY status`)
      .all(sweep) as Array<{ status: RunStatus; n: number }>;
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
  }

  /** The attempt log of a sweep (who ran what, how it ended). */
  attempts(
    sweep: string,
  ): Array<{ runId: string; attempt: number; owner: string; status: string; error: string | null }> {
    const rows = this.db
      .prepare(`SELECT * FROM attempts WHERE sweep = ? ORDER BY started_at, run_id, attempt`)
      .all(sweep) as Row[];
    return rows.map((r) => ({
      runId: String(r['run_id']),
      attempt: Number(r['attempt']),
      owner: String(r['owner']),
      status: String(r['status']),
      error: r['error'] === null ? null : String(r['error']),
    }));
  }

  private maxAttempts(sweep: string): number {
    const row = this.db.prepare(`SELECT max_attempts FROM sweeps WHERE name = ?`).get(sweep) as
      | { max_attempts: number }
      | undefined;
    if (row === undefined) throw new Error(`unknown sweep "${sweep}" in ${this.path}`);
    return Number(row.max_attempts);
  }

  private attemptsOf(sweep: string, runId: string): number {
    const row = this.db
      .prepare(`SELECT attempts FROM runs WHERE sweep = ? AND run_id = ?`)
      .get(sweep, runId) as { attempts: number } | undefined;
    return Number(row?.attempts ?? 0);
  }

  private endAttempt(
    sweep: string,
    runId: string,
    attempt: number,
    status: string,
    error: string | null,
  ): void {
    this.db
      .prepare(
        `UPDATE attempts SET status = ?, ended_at = ?, error = ?
         WHERE sweep = ? AND run_id = ? AND attempt = ? AND status = 'running'`,
      )
      .run(status, this.now(), error, sweep, runId, attempt);
  }
}

/** JSON has no NaN: store it as null (read back as NaN for metrics). */
const nanToNull = (_key: string, value: unknown): unknown =>
  typeof value === 'number' && !Number.isFinite(value) ? null : value;

const parseOutcome = (json: string): RunOutcome => {
  const parsed = JSON.parse(json) as { metrics: Record<string, number | null>; details?: unknown };
  const metrics = Object.fromEntries(
    Object.entries(parsed.metrics).map(([k, v]) => [k, v === null ? Number.NaN : v]),
  );
  return parsed.details === undefined ? { metrics } : { metrics, details: parsed.details };
};

const rowToPlanned = (row: Row): PlannedRun => ({
  id: String(row['run_id']),
  index: Number(row['idx']),
  config: JSON.parse(String(row['config_json'])) as Record<string, unknown>,
  overrides: JSON.parse(String(row['overrides_json'])) as Record<string, unknown>,
});

const nullableNumber = (value: SQLInputValue | undefined): number | null =>
  value === null || value === undefined ? null : Number(value);

const rowToStored = (row: Row): StoredRun => ({
  sweep: String(row['sweep']),
  ...rowToPlanned(row),
  status: String(row['status']) as RunStatus,
  attempts: Number(row['attempts']),
  leaseOwner: row['lease_owner'] === null ? null : String(row['lease_owner']),
  leaseExpiresAt: nullableNumber(row['lease_expires_at']),
  heartbeatAt: nullableNumber(row['heartbeat_at']),
  startedAt: nullableNumber(row['started_at']),
  finishedAt: nullableNumber(row['finished_at']),
  outcome: row['outcome_json'] === null ? null : parseOutcome(String(row['outcome_json'])),
  error: row['error'] === null ? null : String(row['error']),
});
