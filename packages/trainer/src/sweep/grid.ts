import { readFileSync } from 'node:fs';
import { Schema } from 'effect';
import { canonicalJson } from './canonical-json.js';
import { runIdOf } from './run-id.js';

/** How each run of a sweep is executed. */
export const ExecutorSpec = Schema.Union([
  /** In-process: the trainer's run function on the run's config (the default). */
  Schema.Struct({ kind: Schema.Literal('trainer') }),
  /**
   * One `dynconv train` process per run (the CLI this sweep runs under):
   * crash isolation and parallel runs with `slots` > 1.
   */
  Schema.Struct({ kind: Schema.Literal('trainer-process') }),
  /**
   * A child process per run: `command[0] ...command[1..]` with the run's
   * config path, output folder and id in `DYNCONV_RUN_*` environment
   * variables; it must write `result.json` into the run folder.
   */
  Schema.Struct({
    kind: Schema.Literal('command'),
    command: Schema.NonEmptyArray(Schema.String),
    cwd: Schema.optionalKey(Schema.String),
    env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  }),
]);
export type ExecutorSpec = typeof ExecutorSpec.Type;

/**
 * A grid file: a base run config and axes. Each axis key is a dotted path into
 * the config (`optimizer.lr`, `model.config.dModel`; numeric segments index
 * arrays) with the list of values it takes. A key of several comma-separated
 * paths is a zipped axis (`"model.config.dModel,model.config.nHeads"`): its
 * values are tuples that move together. The sweep is the cartesian product of
 * the axes, first axis outermost.
 */
export const GridFile = Schema.Struct({
  name: Schema.NonEmptyString,
  description: Schema.optionalKey(Schema.String),
  base: Schema.Record(Schema.String, Schema.Unknown),
  axes: Schema.Record(Schema.String, Schema.NonEmptyArray(Schema.Unknown)),
  executor: Schema.optionalKey(ExecutorSpec),
  /** Attempts per run before it is marked failed (crashes and errors both count). */
  maxAttempts: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
});
export type GridFile = typeof GridFile.Type;

/** One run of an expanded grid. */
export interface PlannedRun {
  /** Stable id: hash of `config` (see `runIdOf`). */
  readonly id: string;
  /** Position in the expansion (first axis outermost). */
  readonly index: number;
  /** The axis values of this run, by path (zipped axes contribute every path). */
  readonly overrides: Readonly<Record<string, unknown>>;
  /** The fully resolved run config: base with the overrides applied. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** An expanded grid. */
export interface SweepPlan {
  readonly name: string;
  readonly description?: string;
  readonly executor: ExecutorSpec;
  readonly maxAttempts: number;
  /** Runs in expansion order, duplicates (same resolved config) removed. */
  readonly runs: readonly PlannedRun[];
  /** Canonical JSON of the grid file, stored with the sweep for provenance. */
  readonly gridJson: string;
}

/** Thrown for a grid that decodes but cannot be expanded (bad path, tuple arity). */
export class GridError extends Error {
  override readonly name = 'GridError';
}

/** Decodes a grid file, reporting every schema problem with its path. */
export const decodeGridFile = (input: unknown): GridFile => {
  try {
    return Schema.decodeUnknownSync(GridFile)(input, { errors: 'all', onExcessProperty: 'error' });
  } catch (error) {
    throw new GridError(`invalid grid file:\n${error instanceof Error ? error.message : String(error)}`);
  }
};

/** Reads, decodes and expands a JSON grid file. */
export const loadGridFile = (path: string): SweepPlan => {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GridError(
      `cannot read grid file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return expandGrid(decodeGridFile(json));
};

interface Axis {
  readonly paths: readonly string[];
  /** One entry per axis value: the value of each path. */
  readonly points: ReadonlyArray<readonly unknown[]>;
}

const parseAxis = (key: string, values: readonly unknown[]): Axis => {
  const paths = key.split(',').map((p) => p.trim());
  if (paths.some((p) => p === '' || p.split('.').some((s) => s === ''))) {
    throw new GridError(`axis "${key}": empty path segment`);
  }
  if (paths.length === 1) return { paths, points: values.map((v) => [v]) };
  const points = values.map((v, i) => {
    if (!Array.isArray(v) || v.length !== paths.length) {
      throw new GridError(`zipped axis "${key}": value ${i} must be an array of ${paths.length} items`);
    }
    return v as readonly unknown[];
  });
  return { paths, points };
};

/** Sets `path` (dotted, numeric segments index arrays) in a JSON value, creating objects on the way. */
export const setPath = (root: Record<string, unknown>, path: string, value: unknown): void => {
  const segments = path.split('.');
  let node: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (Array.isArray(node)) {
      const index = Number(segment);
      if (!Number.isInteger(index) || index < 0 || index >= node.length) {
        throw new GridError(`path "${path}": "${segment}" is not an index of an array of ${node.length}`);
      }
      if (last) node[index] = value;
      else node = node[index];
    } else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if (last) record[segment] = value;
      else {
        record[segment] ??= {};
        node = record[segment];
      }
    } else {
      throw new GridError(`path "${path}": "${segments.slice(0, i).join('.')}" is not an object`);
    }
  }
};

/**
 * Expands a grid into its runs: the cartesian product of the axes applied to
 * the base config. Runs whose resolved configs coincide are kept once.
 */
export const expandGrid = (grid: GridFile): SweepPlan => {
  const axes = Object.entries(grid.axes).map(([key, values]) => parseAxis(key, values));
  const seenPaths = new Set<string>();
  for (const path of axes.flatMap((a) => a.paths)) {
    if (seenPaths.has(path)) throw new GridError(`path "${path}" appears in two axes`);
    seenPaths.add(path);
  }
  const runs: PlannedRun[] = [];
  const seenIds = new Set<string>();
  const total = axes.reduce((n, a) => n * a.points.length, 1);
  for (let flat = 0; flat < total; flat++) {
    // Mixed-radix decode of `flat`, last axis fastest.
    const overrides: Record<string, unknown> = {};
    let rest = flat;
    const choice = new Array<number>(axes.length);
    for (let a = axes.length - 1; a >= 0; a--) {
      const size = axes[a]!.points.length;
      choice[a] = rest % size;
      rest = Math.floor(rest / size);
    }
    const config = structuredClone(grid.base) as Record<string, unknown>;
    axes.forEach((axis, a) => {
      const point = axis.points[choice[a]!]!;
      axis.paths.forEach((path, p) => {
        const value = structuredClone(point[p]);
        setPath(config, path, value);
        overrides[path] = value;
      });
    });
    const id = runIdOf(config);
    if (seenIds.has(id)) continue;
    seenIds.add(id);
    runs.push({ id, index: runs.length, overrides, config });
  }
  return {
    name: grid.name,
    ...(grid.description === undefined ? {} : { description: grid.description }),
    executor: grid.executor ?? { kind: 'trainer' },
    maxAttempts: grid.maxAttempts ?? 3,
    runs,
    gridJson: canonicalJson(grid),
  };
};
