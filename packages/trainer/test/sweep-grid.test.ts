import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { canonicalJson } from '../src/sweep/canonical-json.js';
import { decodeGridFile, expandGrid, GridError, loadGridFile, setPath } from '../src/sweep/grid.js';
import { runIdOf } from '../src/sweep/run-id.js';

const base = {
  model: { architecture: 'transformer', config: { dModel: 64, nHeads: 2 } },
  optimizer: { lr: 1e-3 },
};

describe('canonicalJson / runIdOf', () => {
  test('key order does not matter, values do', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(runIdOf({ a: 1, b: 2 })).toBe(runIdOf({ b: 2, a: 1 }));
    expect(runIdOf({ a: 1, b: 2 })).not.toBe(runIdOf({ a: 1, b: 3 }));
    expect(runIdOf({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
    // Pinned: ids must stay stable across versions, or resumed sweeps would rerun everything.
    // sha256('{"optimizer":{"lr":0.001},"seed":0}'), first 16 hex digits.
    expect(runIdOf({ seed: 0, optimizer: { lr: 0.001 } })).toBe('6b5c782f346817ae');
  });

  test('rejects values JSON cannot represent faithfully', () => {
    expect(() => canonicalJson({ lr: Number.NaN })).toThrow(/non-finite number at \$\.lr/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/unsupported function/);
  });
});

describe('expandGrid', () => {
  test('cartesian product, first axis outermost, overrides applied to a copy of the base', () => {
    const plan = expandGrid(
      decodeGridFile({
        name: 'g',
        base,
        axes: { 'optimizer.lr': [1e-3, 3e-3], seed: [0, 1, 2] },
      }),
    );
    expect(plan.runs).toHaveLength(6);
    expect(plan.runs.map((r) => [r.overrides['optimizer.lr'], r.overrides['seed']])).toEqual([
      [1e-3, 0],
      [1e-3, 1],
      [1e-3, 2],
      [3e-3, 0],
      [3e-3, 1],
      [3e-3, 2],
    ]);
    expect(plan.runs[4]!.config).toEqual({ ...base, optimizer: { lr: 3e-3 }, seed: 1 });
    expect(base.optimizer.lr).toBe(1e-3); // the base is not mutated
    expect(plan.runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(6);
    expect(plan.runs.every((r) => r.id === runIdOf(r.config))).toBe(true);
    expect(plan.executor).toEqual({ kind: 'trainer' });
    expect(plan.maxAttempts).toBe(3);
  });

  test('zipped axes move together', () => {
    const plan = expandGrid(
      decodeGridFile({
        name: 'z',
        base,
        axes: {
          'model.config.dModel,model.config.nHeads': [
            [64, 2],
            [128, 4],
          ],
          seed: [0, 1],
        },
      }),
    );
    expect(plan.runs.map((r) => r.config['model'])).toEqual([
      { architecture: 'transformer', config: { dModel: 64, nHeads: 2 } },
      { architecture: 'transformer', config: { dModel: 64, nHeads: 2 } },
      { architecture: 'transformer', config: { dModel: 128, nHeads: 4 } },
      { architecture: 'transformer', config: { dModel: 128, nHeads: 4 } },
    ]);
    expect(plan.runs[2]!.overrides).toEqual({
      'model.config.dModel': 128,
      'model.config.nHeads': 4,
      seed: 0,
    });
  });

  test('run ids depend only on the resolved config, not on how the grid is written', () => {
    const a = expandGrid(
      decodeGridFile({ name: 'a', base, axes: { seed: [0, 1], 'optimizer.lr': [1e-3, 2e-3] } }),
    );
    const b = expandGrid(
      decodeGridFile({
        name: 'b',
        base: { optimizer: { lr: 5 }, model: base.model },
        axes: { 'optimizer.lr': [2e-3, 1e-3], seed: [1, 0] },
      }),
    );
    expect(new Set(a.runs.map((r) => r.id))).toEqual(new Set(b.runs.map((r) => r.id)));
  });

  test('duplicate resolved configs are kept once; no axes gives the base alone', () => {
    const dup = expandGrid(decodeGridFile({ name: 'd', base, axes: { 'optimizer.lr': [1e-3, 1e-3, 2e-3] } }));
    expect(dup.runs).toHaveLength(2);
    expect(dup.runs.map((r) => r.index)).toEqual([0, 1]);
    const single = expandGrid(decodeGridFile({ name: 's', base, axes: {} }));
    expect(single.runs).toHaveLength(1);
    expect(single.runs[0]!.config).toEqual(base);
  });

  test('array indices and created intermediate objects', () => {
    const target: Record<string, unknown> = { layers: [{ kind: 'a' }, { kind: 'b' }] };
    setPath(target, 'layers.1.kind', 'c');
    setPath(target, 'new.deep.value', 3);
    expect(target).toEqual({ layers: [{ kind: 'a' }, { kind: 'c' }], new: { deep: { value: 3 } } });
    expect(() => setPath(target, 'layers.5.kind', 1)).toThrow(GridError);
    expect(() => setPath({ a: 1 }, 'a.b', 1)).toThrow(/"a" is not an object/);
  });

  test('bad grids fail with the reason', () => {
    expect(() => decodeGridFile({ name: '', base: {}, axes: { x: [] }, extra: 1 })).toThrow(GridError);
    try {
      decodeGridFile({ name: '', base: {}, axes: { x: [] }, extra: 1 });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/name/);
      expect(message).toMatch(/axes/);
      expect(message).toMatch(/extra/);
    }
    expect(() => expandGrid(decodeGridFile({ name: 'z', base, axes: { 'a,b': [[1, 2], [3]] } }))).toThrow(
      /value 1 must be an array of 2 items/,
    );
    expect(() => expandGrid(decodeGridFile({ name: 'z', base, axes: { a: [1], 'b,a': [[1, 2]] } }))).toThrow(
      /appears in two axes/,
    );
    expect(() =>
      decodeGridFile({ name: 'z', base, axes: {}, executor: { kind: 'command', command: [] } }),
    ).toThrow(GridError);
  });

  test('loadGridFile reads JSON from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-grid-'));
    const path = join(dir, 'grid.json');
    writeFileSync(
      path,
      JSON.stringify({
        name: 'disk',
        base,
        axes: { seed: [0, 1] },
        executor: { kind: 'command', command: ['node', 'x.mjs'] },
        maxAttempts: 2,
      }),
    );
    const plan = loadGridFile(path);
    expect(plan.runs).toHaveLength(2);
    expect(plan.executor).toEqual({ kind: 'command', command: ['node', 'x.mjs'] });
    expect(plan.maxAttempts).toBe(2);
    writeFileSync(path, '{not json');
    expect(() => loadGridFile(path)).toThrow(/cannot read grid file/);
  });
});
