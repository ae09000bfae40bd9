import { concat, narrow, type Tensor } from '@dynconv/tensor';
import { expect } from 'vitest';
import { concatRows, splitRows } from '../src/fused/copy-runs.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { randomTensor } from './helpers.js';

const data = async (t: Tensor) => Float32Array.from(await t.data());

gpuTest(
  'concatRows / splitRows: one dispatch per 15 pieces, the same values as concat / narrow',
  async ({ backend }) => {
    // 17 pieces (two dispatches each way), odd row counts and widths, one piece below a workgroup.
    const rows = [3, 1, 7, 2, 5, 1, 1, 4, 9, 2, 3, 1, 6, 2, 1, 3, 300];
    const pieces = rows.map((r, i) => randomTensor([r, 5, 3], 10 + i, backend));
    let keys: string[] = [];
    let joined: Tensor | null = null;
    keys = dispatchedKeys(backend, () => {
      joined = concatRows(pieces);
    });
    expect(keys.filter((k) => k.startsWith('layers.copyRuns|gather'))).toHaveLength(2);
    const reference = concat(pieces, 0);
    expect(await data(joined!)).toEqual(await data(reference));

    // Split a view with an element offset (rows 2.. of a bigger tensor).
    const total = rows.reduce((a, b) => a + b, 0);
    const big = randomTensor([total + 2, 5, 3], 40, backend);
    const g = narrow(big, 0, 2, total);
    let parts: Tensor[] | null = null;
    keys = dispatchedKeys(backend, () => {
      parts = splitRows(g, rows);
    });
    expect(keys.filter((k) => k.startsWith('layers.copyRuns|scatter'))).toHaveLength(2);
    let start = 0;
    for (const [i, part] of parts!.entries()) {
      expect(part.shape).toEqual([rows[i], 5, 3]);
      const want = narrow(g, 0, start, rows[i]!);
      expect(await data(part)).toEqual(await data(want));
      start += rows[i]!;
      want.dispose();
      part.dispose();
    }
    // Pieces sharing a buffer (views of one tensor) are declined: the caller concatenates.
    expect(concatRows([narrow(big, 0, 0, 2), narrow(big, 0, 2, 3)])).toBeNull();
    for (const t of [...pieces, joined!, reference, g, big]) t.dispose();
  },
);
