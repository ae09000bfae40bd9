import { describe, expect } from 'vitest';
import { expectClose, f32, randomArray, test, tracker } from './gpu-fixture.js';

/**
 * Row kernels (softmax, cross-entropy, norms and their backward passes) and
 * index kernels (gather, scatterAdd, cumsum, topk) against float64 loops.
 */
const rowsOf = (data: readonly number[], rows: number, n: number): number[][] =>
  Array.from({ length: rows }, (_, r) => data.slice(r * n, (r + 1) * n));

const softmaxRef = (row: number[], log: boolean): number[] => {
  const m = Math.max(...row);
  const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
  return row.map((v) => (log ? v - m - Math.log(s) : Math.exp(v - m) / s));
};

describe('webgpu softmax', () => {
  test.for([
    [3, 1],
    [5, 7],
    [2, 5000],
    [1, 100_003],
  ] as const)(
    'rows %i x n %i: forward and backward, softmax and log-softmax',
    async ([rows, n], { backend }) => {
      const t = tracker(backend);
      const xs = f32(randomArray(rows * n, n, -8, 8));
      const dys = f32(randomArray(rows * n, n + 1));
      const x = t.upload(xs);
      const dy = t.upload(dys);
      for (const log of [false, true]) {
        const y = t.alloc(rows * n);
        backend.softmax(x, rows, n, y, log);
        const ys = rowsOf(xs, rows, n).flatMap((row) => softmaxRef(row, log));
        expectClose(await t.read(y), ys, { atol: 2e-6, rtol: 1e-5 });
        const dx = t.alloc(rows * n);
        backend.softmaxBackward(y, dy, rows, n, dx, log);
        const want = rowsOf(ys, rows, n).flatMap((yr, r) => {
          const g = dys.slice(r * n, (r + 1) * n);
          if (log) {
            const s = g.reduce((a, b) => a + b, 0);
            return yr.map((v, j) => g[j]! - Math.exp(v) * s);
          }
          const dot = yr.reduce((a, v, j) => a + v * g[j]!, 0);
          return yr.map((v, j) => v * (g[j]! - dot));
        });
        expectClose(await t.read(dx), want, { atol: 2e-5, rtol: 1e-4 });
      }
      t.done();
    },
  );
});

describe('webgpu cross-entropy', () => {
  test('vocab 50257: losses, lse, ignored and out-of-range targets, backward', async ({ backend }) => {
    const t = tracker(backend);
    const [rows, n, ignore] = [4, 50_257, -100];
    const xs = f32(randomArray(rows * n, 3, -10, 10));
    const targets = [17, ignore, 50_256, 50_257];
    const gs = [0.5, 2, -1, 1];
    const x = t.upload(xs);
    const tg = t.upload(targets, 'i32');
    const g = t.upload(gs);
    const losses = t.alloc(rows);
    const lse = t.alloc(rows);
    backend.crossEntropy({ logits: x, targets: tg, rows, n, ignoreIndex: ignore, losses, lse });
    const lses = rowsOf(xs, rows, n).map((row) => {
      const m = Math.max(...row);
      return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    });
    expectClose(await t.read(lse), lses, { atol: 1e-5, rtol: 1e-6 });
    const gotLoss = await t.read(losses);
    expectClose(gotLoss.slice(0, 3), [lses[0]! - xs[17]!, 0, lses[2]! - xs[2 * n + 50_256]!], {
      atol: 1e-5,
      rtol: 1e-6,
    });
    expect(Number.isNaN(gotLoss[3])).toBe(true);
    const dx = t.alloc(rows * n);
    backend.crossEntropyBackward({
      logits: x,
      targets: tg,
      lse,
      g,
      rows: 3,
      n,
      ignoreIndex: ignore,
      dlogits: dx,
    }); // the first 3 rows
    const want: number[] = [];
    for (let r = 0; r < 3; r++)
      for (let j = 0; j < n; j++)
        want.push(
          targets[r] === ignore
            ? 0
            : gs[r]! * (Math.exp(xs[r * n + j]! - lses[r]!) - (j === targets[r] ? 1 : 0)),
        );
    expectClose((await t.read(dx)).slice(0, 3 * n), want, { atol: 1e-7, rtol: 1e-4 });
    t.done();
  });
});

describe('webgpu norms', () => {
  test.for([
    ['rms', 7, true, false],
    ['rms', 5000, false, false],
    ['layer', 63, true, true],
    ['layer', 257, false, false],
  ] as const)(
    '%s n=%i weight=%s bias=%s: forward and backward',
    async ([kind, n, hasW, hasB], { backend }) => {
      const t = tracker(backend);
      const rows = 3;
      const eps = 1e-5;
      const xs = f32(randomArray(rows * n, n, -2, 3));
      const ws = f32(randomArray(n, n + 1, 0.5, 1.5));
      const bs = f32(randomArray(n, n + 2));
      const dys = f32(randomArray(rows * n, n + 3));
      const x = t.upload(xs);
      const w = hasW ? t.upload(ws) : null;
      const b = hasB ? t.upload(bs) : null;
      const dy = t.upload(dys);
      const out = t.alloc(rows * n);
      const mean = kind === 'layer' ? t.alloc(rows) : null;
      const rstd = t.alloc(rows);
      backend.norm({ kind, x, weight: w, bias: b, rows, n, eps, out, mean, rstd });
      const wantOut: number[] = [];
      const wantDx: number[] = [];
      const means: number[] = [];
      const rstds: number[] = [];
      for (const [r, row] of rowsOf(xs, rows, n).entries()) {
        const mu = kind === 'layer' ? row.reduce((a, v) => a + v, 0) / n : 0;
        const v = row.reduce((a, x_) => a + (x_ - mu) ** 2, 0) / n;
        const rs = 1 / Math.sqrt(v + eps);
        means.push(mu);
        rstds.push(rs);
        const xhat = row.map((x_) => (x_ - mu) * rs);
        wantOut.push(...xhat.map((h, j) => h * (hasW ? ws[j]! : 1) + (hasB ? bs[j]! : 0)));
        const g = xhat.map((_, j) => dys[r * n + j]! * (hasW ? ws[j]! : 1));
        const c1 = kind === 'layer' ? g.reduce((a, v_) => a + v_, 0) / n : 0;
        const c2 = g.reduce((a, v_, j) => a + v_ * xhat[j]!, 0) / n;
        wantDx.push(...g.map((gj, j) => rs * (gj - c1 - xhat[j]! * c2)));
      }
      expectClose(await t.read(out), wantOut, { atol: 1e-5, rtol: 1e-5 });
      expectClose(await t.read(rstd), rstds, { rtol: 1e-5 });
      if (mean) expectClose(await t.read(mean), means, { atol: 1e-6 });
      const dx = t.alloc(rows * n);
      backend.normBackward({ kind, x, weight: w, mean, rstd, dy, rows, n, dx });
      expectClose(await t.read(dx), wantDx, { atol: 1e-5, rtol: 1e-4 });
      t.done();
    },
  );
});

describe('webgpu norms: fused residual add and parameter gradients', () => {
  // rows >= 4096 take blocks of several rows (normBackwardBlock); 8195 ends in a partial block,
  // and more than 64 blocks take several column-sum passes. n % 4 == 0 takes vec4 loads
  // (96: every thread busy; 132: 33 vectors on 64 threads).
  test.for([
    ['rms', 7, 5, true],
    ['rms', 13, 2051, true],
    ['layer', 9, 8195, false],
    ['layer', 129, 3, true],
    ['rms', 96, 8195, true],
    ['layer', 132, 2051, true],
  ] as const)(
    '%s n=%i rows=%i residual=%s: sum, out, dx (+ dresidual), dweight, dbias',
    async ([kind, n, rows, withRes], { backend }) => {
      const t = tracker(backend);
      const eps = 1e-5;
      const xs = f32(randomArray(rows * n, n, -2, 3));
      const rs = f32(randomArray(rows * n, n + 4, -1, 1));
      const ws = f32(randomArray(n, n + 1, 0.5, 1.5));
      const bs = f32(randomArray(n, n + 2));
      const dys = f32(randomArray(rows * n, n + 3));
      const drs = f32(randomArray(rows * n, n + 5));
      const [x, res, w, b, dy, dres] = [xs, rs, ws, bs, dys, drs].map((a) => t.upload(a));
      const sum = withRes ? t.alloc(rows * n) : null;
      const out = t.alloc(rows * n);
      const mean = kind === 'layer' ? t.alloc(rows) : null;
      const rstd = t.alloc(rows);
      backend.norm({
        kind,
        x: x!,
        residual: withRes ? res! : null,
        sum,
        weight: w!,
        bias: kind === 'layer' ? b! : null,
        rows,
        n,
        eps,
        out,
        mean,
        rstd,
      });
      const hs = withRes ? f32(xs.map((v, i) => v + rs[i]!)) : xs;
      const wantOut: number[] = [];
      const wantDx: number[] = [];
      const dW = new Float64Array(n);
      const dB = new Float64Array(n);
      for (const [r, row] of rowsOf(hs, rows, n).entries()) {
        const mu = kind === 'layer' ? row.reduce((a, v) => a + v, 0) / n : 0;
        const rsd = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / n + eps);
        const xhat = row.map((v) => (v - mu) * rsd);
        wantOut.push(...xhat.map((h, j) => h * ws[j]! + (kind === 'layer' ? bs[j]! : 0)));
        const g = xhat.map((_, j) => dys[r * n + j]! * ws[j]!);
        const c1 = kind === 'layer' ? g.reduce((a, v) => a + v, 0) / n : 0;
        const c2 = g.reduce((a, v, j) => a + v * xhat[j]!, 0) / n;
        wantDx.push(...g.map((gj, j) => rsd * (gj - c1 - xhat[j]! * c2) + (withRes ? drs[r * n + j]! : 0)));
        for (let j = 0; j < n; j++) {
          dW[j] = dW[j]! + dys[r * n + j]! * xhat[j]!;
          dB[j] = dB[j]! + dys[r * n + j]!;
        }
      }
      if (sum) expectClose(await t.read(sum), hs, { atol: 0 });
      expectClose(await t.read(out), wantOut, { atol: 1e-5, rtol: 1e-5 });
      const dx = t.alloc(rows * n);
      const dweight = t.alloc(n);
      const dbias = kind === 'layer' ? t.alloc(n) : null;
      backend.normBackward({
        kind,
        x: sum ?? x!,
        weight: w!,
        mean,
        rstd,
        dy: dy!,
        rows,
        n,
        dx,
        dresidual: withRes ? dres! : null,
        dweight,
        dbias,
      });
      expectClose(await t.read(dx), wantDx, { atol: 1e-5, rtol: 1e-4 });
      // Sums over up to 8195 rows: tolerance scaled by sqrt(rows).
      const atol = 1e-5 * Math.sqrt(rows) * 4;
      const gotW = await t.read(dweight);
      expectClose(gotW, Array.from(dW), { atol, rtol: 1e-4 });
      if (dbias) expectClose(await t.read(dbias), Array.from(dB), { atol, rtol: 1e-4 });
      // Deterministic: a rerun gives the same bits.
      const dx2 = t.alloc(rows * n);
      const dweight2 = t.alloc(n);
      backend.normBackward({
        kind,
        x: sum ?? x!,
        weight: w!,
        mean,
        rstd,
        dy: dy!,
        rows,
        n,
        dx: dx2,
        dresidual: withRes ? dres! : null,
        dweight: dweight2,
        dbias: null,
      });
      expect(Array.from(await t.read(dweight2))).toEqual(Array.from(gotW));
      expect(Array.from(await t.read(dx2))).toEqual(Array.from(await t.read(dx)));
      t.done();
    },
  );
});

describe('webgpu indexing', () => {
  test('gather rows with repeats and out-of-range indices (zeros)', async ({ backend }) => {
    const t = tracker(backend);
    const [outer, size, inner] = [2, 5, 3];
    const xs = Array.from({ length: outer * size * inner }, (_, i) => i + 0.5);
    const idx = [4, 0, 4, -1, 5, 2, 1];
    const x = t.upload(xs);
    const ib = t.upload(idx, 'i32');
    const out = t.alloc(outer * idx.length * inner);
    backend.gather({ x, idx: ib, outer, size, inner, count: idx.length, out });
    const want: number[] = [];
    for (let o = 0; o < outer; o++)
      for (const v of idx)
        for (let r = 0; r < inner; r++) want.push(v >= 0 && v < size ? xs[(o * size + v) * inner + r]! : 0);
    expect(await t.read(out)).toEqual(want);
    t.done();
  });

  test.for([
    [2, 7, 3, 1],
    [1, 257, 5, 1029],
    // Many rows (the `rows` kernel): row groups past the end, inner chunk edges, several groups per chunk.
    [2, 300, 130, 70],
    [1, 600, 200, 300],
  ] as const)(
    'scatterAdd outer %i count %i size %i inner %i (deterministic order, zero rows)',
    async ([outer, count, size, inner], { backend }) => {
      const t = tracker(backend);
      const src = f32(randomArray(outer * count * inner, count));
      const idx = Array.from(
        { length: count },
        (_, i) => ((i * 7) % (size + 1)) - (i % 11 === 0 ? 1 : 0),
      ).map((v) => Math.min(v, size - 2)); // repeats, one never-hit row (size - 1), some -1 that must be dropped
      const sb = t.upload(src);
      const ib = t.upload(idx, 'i32');
      const out = t.alloc(outer * size * inner);
      backend.scatterAdd({ src: sb, idx: ib, outer, count, inner, size, out });
      const want = new Array(outer * size * inner).fill(0);
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < count; i++)
          if (idx[i]! >= 0)
            for (let r = 0; r < inner; r++)
              want[(o * size + idx[i]!) * inner + r] += src[(o * count + i) * inner + r]!;
      expectClose(await t.read(out), want, { atol: 1e-5, rtol: 1e-5 });
      t.done();
    },
  );

  test.for([
    [3, 7, 5, false],
    [2, 3000, 1, false],
    [2, 3000, 1, true],
    [1, 63, 4, true],
  ] as const)('cumsum outer %i n %i inner %i reverse %s', async ([outer, n, inner, reverse], { backend }) => {
    const t = tracker(backend);
    const xs = f32(randomArray(outer * n * inner, n));
    const x = t.upload(xs);
    const out = t.alloc(outer * n * inner);
    backend.cumsum(x, outer, n, inner, reverse, out);
    const want = new Array(xs.length).fill(0);
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < inner; r++) {
        let acc = 0;
        for (let s = 0; s < n; s++) {
          const j = reverse ? n - 1 - s : s;
          const at = (o * n + j) * inner + r;
          acc += xs[at]!;
          want[at] = acc;
        }
      }
    expectClose(await t.read(out), want, { atol: 2e-5, rtol: 1e-5 });
    t.done();
  });

  test.for([
    [3, 257, 10],
    [2, 5000, 7],
    [1, 7, 7],
    [2, 1, 1],
  ] as const)(
    'topk rows %i n %i k %i: sorted descending, ties by lower index',
    async ([rows, n, k], { backend }) => {
      const t = tracker(backend);
      const xs = f32(randomArray(rows * n, n)).map((v) => Math.round(v * 2) / 2); // many ties
      const x = t.upload(xs);
      const values = t.alloc(rows * k);
      const indices = t.alloc(rows * k, 'i32');
      backend.topk(x, rows, n, k, values, indices);
      const wantV: number[] = [];
      const wantI: number[] = [];
      for (const row of rowsOf(xs, rows, n)) {
        const order = row.map((_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
        wantI.push(...order.slice(0, k));
        wantV.push(...order.slice(0, k).map((j) => row[j]!));
      }
      expect(await t.read(values)).toEqual(wantV);
      expect(await t.read(indices)).toEqual(wantI);
      t.done();
    },
  );
});
