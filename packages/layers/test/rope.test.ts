import { concat, expand, narrow, reshape, sum, tidy } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { applyRoPE, initRoPE } from '../src/index.js';
import { maxAbsDiff, randomTensor } from './helpers.js';

describe('RoPE', () => {
  const rope = initRoPE({ headDim: 8, theta: 100 });

  it('makes q·k depend only on the position difference', async () => {
    const T = 9;
    const q = expand(reshape(randomTensor([8], 1), [1, 1, 1, 8]), [1, 1, T, 8]);
    const k = expand(reshape(randomTensor([8], 2), [1, 1, 1, 8]), [1, 1, T, 8]);
    const scores = await tidy(() => applyRoPE(rope, q).matmul(applyRoPE(rope, k).T)).data();
    const at = (m: number, n: number) => scores[m * T + n]!;
    expect(Math.abs(at(3, 1) - at(7, 5))).toBeLessThan(1e-5);
    expect(Math.abs(at(8, 2) - at(6, 0))).toBeLessThan(1e-5);
    expect(Math.abs(at(3, 1) - at(3, 2))).toBeGreaterThan(1e-3);
  });

  it('is the identity at position 0 and preserves norms', async () => {
    const x = randomTensor([2, 3, 5, 8], 3);
    const y = applyRoPE(rope, x);
    const x0 = await narrow(x, 2, 0, 1).contiguous().data();
    const y0 = await narrow(y, 2, 0, 1).contiguous().data();
    expect(maxAbsDiff(x0, y0)).toBeLessThan(1e-6);
    const nx = await sum(x.square(), -1).data();
    const ny = await sum(y.square(), -1).data();
    expect(maxAbsDiff(nx, ny)).toBeLessThan(1e-4);
  });

  it('an offset continues the positions (decode)', async () => {
    const x = randomTensor([1, 2, 6, 8], 4);
    const full = await applyRoPE(rope, x).data();
    const parts = concat([applyRoPE(rope, narrow(x, 2, 0, 4)), applyRoPE(rope, narrow(x, 2, 4, 2), 4)], 2);
    expect(maxAbsDiff(full, await parts.data())).toBeLessThan(1e-6);
  });

  it('partial rotary leaves the channels past rotaryDim untouched', async () => {
    const partial = initRoPE({ headDim: 8, rotaryFraction: 0.5 });
    expect(partial.rotaryDim).toBe(4);
    const x = randomTensor([1, 1, 5, 8], 5);
    const y = applyRoPE(partial, x);
    expect(
      maxAbsDiff(
        await narrow(x, -1, 4, 4).contiguous().data(),
        await narrow(y, -1, 4, 4).contiguous().data(),
      ),
    ).toBe(0);
    expect(
      maxAbsDiff(
        await narrow(x, -1, 0, 4).contiguous().data(),
        await narrow(y, -1, 0, 4).contiguous().data(),
      ),
    ).toBeGreaterThan(1e-3);
    expect(() => initRoPE({ headDim: 6, rotaryFraction: 0.5 })).toThrow(/even/);
  });
});
