import { concat, reshape, sum, type Tensor, tidy } from '@dynconv/tensor';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { addRmsNorm, layerFusion, layerNorm, normFused, rmsNorm } from '../src/index.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { cpu, maxAbsDiff, randomTensor } from './helpers.js';

const flat = (ts: readonly Tensor[]): Tensor =>
  concat(
    ts.map((t) => reshape(t, [-1])),
    0,
  );

type NormCase = { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor };

const weightInit = (seed: number) => (i: number) => 0.5 + ((i * 7 + seed) % 11) / 10;

/** Odd sizes; 2100 rows take the backward's multi-row blocks (a partial last one). */
const cases = (rows: [number, number]): NormCase[] => [
  {
    name: `rms [${rows.join(', ')}, 7]`,
    specs: [{ shape: [...rows, 7] }, { shape: [7], init: weightInit(1) }],
    fn: ([x, w]) => normFused('rms', x!, null, w!, null, 1e-6).y,
  },
  {
    name: `rms + residual [${rows.join(', ')}, 9]: sum and y`,
    specs: [{ shape: [...rows, 9] }, { shape: [...rows, 9] }, { shape: [9], init: weightInit(2) }],
    fn: ([x, d, w]) =>
      tidy(() => {
        const { sum: s, y } = normFused('rms', x!, d!, w!, null, 1e-6);
        // Weight the sum's output unevenly so its gradient differs from y's.
        return flat([s!.mul(0.7), y]);
      }),
  },
  {
    name: `layer + residual with bias [${rows.join(', ')}, 5]`,
    specs: [
      { shape: [...rows, 5] },
      { shape: [...rows, 5] },
      { shape: [5], init: weightInit(3) },
      { shape: [5] },
    ],
    fn: ([x, d, w, b]) =>
      tidy(() => {
        const { sum: s, y } = normFused('layer', x!, d!, w!, b!, 1e-5);
        return flat([s!, y]);
      }),
  },
];

describe('normFused (CPU reference)', () => {
  for (const c of cases([2, 3]))
    it(`gradients match finite differences: ${c.name}`, async () => {
      await checkOp(`normFused ${c.name}`, c.specs, c.fn, { fd: { maxPoints: 24 } });
    });

  it('addRmsNorm, rmsNorm and layerNorm equal the composed ops (fusion off), forward and gradients', async () => {
    const run = async (fused: boolean) => {
      layerFusion.enabled = fused;
      try {
        const x = randomTensor([3, 4, 6], 1, cpu).requireGrad();
        const d = randomTensor([3, 4, 6], 2, cpu).requireGrad();
        const w = randomTensor([6], 3, cpu).requireGrad();
        const b = randomTensor([6], 4, cpu).requireGrad();
        const out = tidy(() => {
          const { sum: s, y } = addRmsNorm({ weight: w, eps: 1e-6 }, x, d);
          const y2 = rmsNorm({ weight: w, eps: 1e-6 }, s.mul(1.5));
          const y3 = layerNorm({ weight: w, bias: b, eps: 1e-5 }, y);
          const o = flat([s, y, y2, y3]);
          sum(o.square()).backward();
          return o;
        });
        const data = [await out.data(), ...(await Promise.all([x, d, w, b].map((t) => t.grad!.data())))];
        for (const t of [out, x, d, w, b]) t.dispose();
        return data;
      } finally {
        layerFusion.enabled = true;
      }
    };
    const [fused, composed] = [await run(true), await run(false)];
    for (let i = 0; i < fused.length; i++)
      expect(maxAbsDiff(fused[i]!, composed[i]!)).toBeLessThanOrEqual(1e-4);
  });
});

describe('normFused (WebGPU kernels vs the float64 reference)', () => {
  for (const c of [...cases([2, 3]), ...cases([3, 700])])
    gpuTest(`forward and gradients: ${c.name}`, async ({ backend }) => {
      await checkOp(`normFused ${c.name}`, c.specs, c.fn, { backend, fd: false });
    });

  gpuTest('addRmsNorm: one norm dispatch forward; backward dx and dweight in two', async ({ backend }) => {
    const live = backend.liveBuffers();
    const x = randomTensor([2, 5, 8], 5, backend).requireGrad();
    const d = randomTensor([2, 5, 8], 6, backend).requireGrad();
    const w = randomTensor([8], 7, backend).requireGrad();
    let out: Tensor | null = null;
    const forward = dispatchedKeys(backend, () => {
      out = tidy(() => {
        const { sum: s, y } = addRmsNorm({ weight: w, eps: 1e-6 }, x, d);
        return flat([s, y]);
      });
    });
    const backward = dispatchedKeys(backend, () => tidy(() => sum(out!.square()).backward()));
    const norms = forward.filter((k) => k.startsWith('norm'));
    expect(norms.length).toBe(1);
    expect(norms[0]!.includes('|rf32|')).toBe(true);
    expect(forward.some((k) => k.includes('add'))).toBe(false);
    expect(backward.filter((k) => k.startsWith('norm')).map((k) => k.split('|')[0])).toEqual([
      'normbwd',
      'normcolsum',
    ]);
    for (const t of [out!, x, d, w]) t.dispose();
    expect(backend.liveBuffers()).toBe(live);
  });
});
