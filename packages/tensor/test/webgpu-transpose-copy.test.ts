import { describe, expect } from 'vitest';
import { expectClose, randomArray, test, tracker, view } from './gpu-fixture.js';

/**
 * Copies from a transposed matrix view into a row-major destination take the
 * tiled transpose kernel (`transpose.wgsl.ts`): odd sizes across tile edges,
 * a leading dimension wider than the rows (a column slice), offsets.
 */
describe('webgpu transposed copy', () => {
  test.for([
    [37, 53, 37, 0, 0],
    [64, 32, 64, 0, 5],
    [33, 70, 41, 3, 0],
    [2, 1000, 2, 1, 7],
  ] as const)(
    'rows %i cols %i ld %i, offsets %i / %i',
    async ([rows, cols, ld, srcOff, dstOff], { backend }) => {
      const t = tracker(backend);
      // The source matrix is [cols, ld] row-major; its first `rows` columns, transposed, are the view.
      const data = randomArray(srcOff + cols * ld, rows * cols);
      const src = t.upload(data);
      const dst = t.alloc(dstOff + rows * cols);
      backend.copy(view(src, [rows, cols], [1, ld], srcOff), view(dst, [rows, cols], [cols, 1], dstOff));
      const want: number[] = [];
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) want.push(Math.fround(data[srcOff + i + j * ld]!));
      const got = await t.read(dst);
      expectClose(Array.from(got).slice(dstOff), want, { atol: 0, rtol: 0 });
      expect(backend.runtime.pipelineKeys().some((key) => key.startsWith('copy.transpose|f32'))).toBe(true);
      t.done();
    },
  );
});
