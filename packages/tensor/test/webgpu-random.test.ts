import { describe, expect } from 'vitest';
import { bitsToUniform, bitsToUniformOpen, philox4x32 } from '../src/random/philox.js';
import { expectClose, test, tracker } from './gpu-fixture.js';

/**
 * The WGSL Philox must give the reference's u32 words bit for bit, the same
 * uniforms exactly, and normals within 1e-6 (Box-Muller on word pairs).
 */
const words = (length: number, key: [number, number], offset: number): number[] => {
  const out: number[] = [];
  const w = new Uint32Array(4);
  for (let c = 0; out.length < length; c++) {
    philox4x32(offset + c, key, w);
    out.push(...w);
  }
  return out.slice(0, length);
};

const normals = (length: number, key: [number, number], offset: number): number[] => {
  const w = words(Math.ceil(length / 4) * 4, key, offset);
  const out: number[] = [];
  for (let i = 0; i < w.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(bitsToUniformOpen(w[i]!)));
    const a = 2 * Math.PI * bitsToUniform(w[i + 1]!);
    out.push(r * Math.cos(a), r * Math.sin(a));
  }
  return out.slice(0, length);
};

describe('webgpu random (Philox-4x32-10)', () => {
  // The second case starts 3 counters below 2^32: the carry into the high counter word must match.
  const cases: [number, [number, number], number][] = [
    [257, [0x12345678, 0x9abcdef0], 0],
    [63, [1, 0], 2 ** 32 - 3],
    [7, [0xffffffff, 0xffffffff], 1_000_003],
  ];

  test('bits are identical to philox4x32', async ({ backend }) => {
    const t = tracker(backend);
    for (const [n, key, offset] of cases) {
      const out = t.alloc(n, 'u32');
      backend.random(out, n, 'bits', key, offset);
      expect(await t.read(out)).toEqual(words(n, key, offset));
    }
    t.done();
  });

  test('uniform equals bitsToUniform exactly', async ({ backend }) => {
    const t = tracker(backend);
    for (const [n, key, offset] of cases) {
      const out = t.alloc(n);
      backend.random(out, n, 'uniform', key, offset);
      expect(await t.read(out)).toEqual(words(n, key, offset).map(bitsToUniform));
    }
    t.done();
  });

  test('normal matches Box-Muller on the reference words within 1e-6', async ({ backend }) => {
    const t = tracker(backend);
    for (const [n, key, offset] of [...cases, [5003, [42, 7], 123] as [number, [number, number], number]]) {
      const out = t.alloc(n);
      backend.random(out, n, 'normal', key, offset);
      expectClose(await t.read(out), normals(n, key, offset), { atol: 1e-6, rtol: 0 });
    }
    t.done();
  });
});
