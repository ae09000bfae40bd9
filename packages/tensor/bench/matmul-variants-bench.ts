/**
 * Matmul variants on one device, each beside the register-tiled f32 kernel
 * measured in the same run: the subgroup-matrix (tensor-core) kernel over a
 * sweep of workgroup tilings at 4096³ (f16 inputs, f32 accumulation), its
 * f16-output, transposed-operand and reduced-precision (f32 rounded to f16 on
 * load) forms, the register-tiled kernel with double buffering, and the
 * matmul shapes of a GPT-2-small training step (B·T = 8192, d = 768, vocab
 * 50304). Rows go to the same results list as the rest of `gpu-bench.ts`.
 */
import type { BackendBuffer } from '../src/backend.js';
import { type DType, roundF16 } from '../src/dtype.js';
import type { WebGPUBackend } from '../src/webgpu/backend.js';
import type { MatmulTuning } from '../src/webgpu/kernels/matmul.js';
import { matmulCaps } from '../src/webgpu/kernels/matmul-caps.js';
import { type SgMatTiling, sgmatSplitKFor } from '../src/webgpu/kernels/matmul-sgmat.js';
import { measure, type Result, record, sampledError, view } from './bench-util.js';

/** Tilings swept at 4096³ (sgM x sgN subgroups, tilesM x tilesN 16 x 16 matrices each, K-tile). */
const SWEEP: readonly Partial<SgMatTiling>[] = [
  { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32, vec: 4 },
  { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 16, vec: 8 },
  { sgM: 2, sgN: 4, tilesM: 4, tilesN: 4, bk: 32, vec: 8 },
  { sgM: 2, sgN: 2, tilesM: 2, tilesN: 2, bk: 32, vec: 8 },
];

const label = (t: Partial<SgMatTiling>): string =>
  `sg${t.sgM}x${t.sgN} t${t.tilesM}x${t.tilesN} bk${t.bk}${t.doubleBuffer ? ' db' : ''}${t.direct ? ' direct' : ''}${t.vec ? ` v${t.vec}` : ''}`;

/** Passes over every list: the best pass is kept (another GPU tenant or clock changes slowed single runs). */
const PASSES = Number(process.env.BENCH_PASSES ?? 2);

interface Operands {
  a: BackendBuffer;
  b: BackendBuffer;
  /** Host copies for sampled checks. */
  ha: Float32Array;
  hb: Float32Array;
}

async function square(b: WebGPUBackend, results: Result[], size: number, sg: boolean): Promise<void> {
  const flops = 2 * size ** 3;
  const reps = Math.max(3, Math.min(50, Math.round(2e11 / flops)));
  const make = async (dtype: DType): Promise<Operands> => {
    const a = b.alloc(size * size, dtype);
    const w = b.alloc(size * size, dtype);
    b.random(a, size * size, 'uniform', [1, 2], 0);
    b.random(w, size * size, 'uniform', [3, 4], 0);
    const [ha, hb] = await Promise.all([b.read(view(a, [size * size])), b.read(view(w, [size * size]))]);
    return { a, b: w, ha: ha as Float32Array, hb: hb as Float32Array };
  };
  const f32 = await make('f32');
  const f16 = b.supportsF16 ? await make('f16') : null;
  const out32 = b.alloc(size * size, 'f32');
  const out16 = b.supportsF16 ? b.alloc(size * size, 'f16') : null;
  const row: [number, number] = [size, 1];
  const col: [number, number] = [1, size];
  interface Entry {
    name: string;
    o: Operands;
    tuning: MatmulTuning;
    opts: { bT?: boolean; aT?: boolean; out?: BackendBuffer; round?: boolean };
  }
  const entries: Entry[] = [];
  const add = (name: string, o: Operands | null, tuning: MatmulTuning, opts: Entry['opts'] = {}) => {
    if (o) entries.push({ name, o, tuning, opts });
  };
  const s = `${size}^3`;
  add(`f32 ${s} registerTiled (baseline)`, f32, { variant: 'registerTiled' });
  add(`f32 ${s} registerTiled tm8 bk16`, f32, { variant: 'registerTiled', tm: 8, bk: 16 });
  for (const [tm, tn] of [
    [8, 16],
    [16, 8],
  ] as const)
    for (const bk of [16, 32] as const)
      for (const pad of [1, 0] as const)
        add(`f32 ${s} registerTiled ${16 * tm}x${16 * tn} bk${bk} pad${pad}`, f32, {
          variant: 'registerTiled',
          tm,
          tn,
          bk,
          pad,
        });
  if (sg && f16) {
    add(`f16>f32 ${s} sgmat default`, f16, { variant: 'subgroupMatrix' });
    for (const t of SWEEP)
      add(`f16>f32 ${s} sgmat ${label(t)}`, f16, { variant: 'subgroupMatrix', sgmat: t });
    for (const vec of [4, 8] as const) {
      const v = vec === 8 ? ' v8' : '';
      add(
        `f16>f32 ${s} sgmat B^T (x @ W^T)${v}`,
        f16,
        { variant: 'subgroupMatrix', sgmat: { vec } },
        { bT: true },
      );
      add(
        `f16>f32 ${s} sgmat A^T (dW)${v}`,
        f16,
        { variant: 'subgroupMatrix', sgmat: { vec } },
        { aT: true },
      );
      add(
        `f16>f16 ${s} sgmat${v}`,
        f16,
        { variant: 'subgroupMatrix', sgmat: { vec } },
        out16 ? { out: out16 } : {},
      );
    }
    // f32 operands stay 4-wide (8-wide staging measured 2.3x slower for them).
    add(`f32 ${s} reduced precision (sgmat)`, f32, { reducedPrecision: true }, { round: true });
    add(`f32 ${s} reduced precision, B^T`, f32, { reducedPrecision: true }, { bT: true, round: true });
  }
  const best = new Map<string, { m: Awaited<ReturnType<typeof measure>>; err: number; passes: number[] }>();
  for (let pass = 0; pass < PASSES; pass++)
    for (const { name, o, tuning, opts } of entries) {
      const out = opts.out ?? out32;
      const aStr = opts.aT ? [0, 1, size] : [0, size, 1];
      const bStr = opts.bT ? [0, 1, size] : [0, size, 1];
      b.tuning.matmul = tuning;
      try {
        const m = await measure(
          b,
          () => b.matmul(view(o.a, [1, size, size], aStr), view(o.b, [1, size, size], bStr), out),
          reps,
        );
        let err = 0;
        if (pass === 0) {
          const hc = await b.read(view(out, [size * size]));
          err = sampledError(o.ha, o.hb, hc, [size, size, size], opts.aT ? col : row, opts.bT ? col : row, {
            round: opts.round ? roundF16 : undefined,
          });
        }
        const prev = best.get(name);
        const passes = [...(prev?.passes ?? []), flops / (m.ms * 1e6)];
        best.set(name, {
          m: !prev || m.ms < prev.m.ms ? m : prev.m,
          err: Math.max(err, prev?.err ?? 0),
          passes,
        });
      } catch (error) {
        if (pass === 0) console.log(`${name.padEnd(44)} n/a: ${(error as Error).message.split('\n')[0]}`);
      } finally {
        b.tuning.matmul = {};
      }
    }
  for (const { name, opts } of entries) {
    const r = best.get(name);
    if (!r) continue;
    const tol = (opts.out ?? out32).dtype === 'f16' ? 2e-3 : 1e-3;
    const tag = PASSES > 1 ? ` [passes: ${r.passes.map((v) => (v / 1000).toFixed(1)).join(', ')}]` : '';
    record(
      results,
      `${name}${r.err > tol ? ` WRONG (rel err ${r.err.toExponential(1)})` : ''}${tag}`,
      r.m,
      flops / (r.m.ms * 1e6),
      'GFLOP/s',
    );
  }
  for (const x of [f32.a, f32.b, out32, ...(f16 ? [f16.a, f16.b] : []), ...(out16 ? [out16] : [])]) b.free(x);
  await b.sync();
}

/** f32 register-tiled candidates per training shape (the first is the previous default). */
const TRAIN_F32: readonly [string, MatmulTuning][] = [
  ['f32 tiled auto', { variant: 'registerTiled' }],
  ['f32 tiled 128x64', { variant: 'registerTiled', tm: 8, tn: 4, splitK: 1 }],
  ['f32 tiled tm8 split8', { variant: 'registerTiled', tm: 8, splitK: 8 }],
  ['f32 tiled 128x256 bk16', { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, splitK: 1 }],
  ['f32 tiled 256x128 bk16', { variant: 'registerTiled', tm: 16, tn: 8, bk: 16, splitK: 1 }],
  ['f32 tiled 128x256 bk16 split4', { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, splitK: 4 }],
  ['f32 tiled 128x256 bk16 split8', { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, splitK: 8 }],
];

/** Max |x - y| / max |y| over the first and last 4096 outputs. */
async function relDiff(b: WebGPUBackend, x: BackendBuffer, y: BackendBuffer, len: number): Promise<number> {
  const n = Math.min(len, 4096);
  const part = (buf: BackendBuffer, offset: number) =>
    b.read({ buffer: buf, dtype: 'f32', shape: [n], strides: [1], offset });
  const [x0, y0, x1, y1] = await Promise.all([part(x, 0), part(y, 0), part(x, len - n), part(y, len - n)]);
  let scale = 0;
  let diff = 0;
  for (const [u, v] of [
    [x0, y0],
    [x1, y1],
  ] as const)
    for (let i = 0; i < n; i++) {
      scale = Math.max(scale, Math.abs(v[i]!));
      diff = Math.max(diff, Math.abs(u[i]! - v[i]!));
    }
  return diff / scale;
}

/** The matmuls of one GPT-2-small training step: f32 tilings / split-K and reduced precision, each checked against the first. */
async function trainingShapes(b: WebGPUBackend, results: Result[], sg: boolean): Promise<void> {
  const T = 8192;
  const shapes: [string, number, number, number, 'xWt' | 'xW' | 'dW'][] = [
    ['qkv x@W^T', T, 2304, 768, 'xWt'],
    ['qkv dX=dY@W', T, 768, 2304, 'xW'],
    ['qkv dW=dY^T@X', 2304, 768, T, 'dW'],
    ['attn out x@W^T', T, 768, 768, 'xWt'],
    ['attn out dX=dY@W', T, 768, 768, 'xW'],
    ['attn out dW=dY^T@X', 768, 768, T, 'dW'],
    ['mlp up x@W^T', T, 2048, 768, 'xWt'],
    ['mlp up dX=dY@W', T, 768, 2048, 'xW'],
    ['mlp up dW=dY^T@X', 2048, 768, T, 'dW'],
    ['mlp down x@W^T', T, 768, 2048, 'xWt'],
    ['mlp down dX=dY@W', T, 2048, 768, 'xW'],
    ['mlp down dW=dY^T@X', 768, 2048, T, 'dW'],
    ['lm head x@W^T', T, 50304, 768, 'xWt'],
    ['lm head dX=dY@W', T, 768, 50304, 'xW'],
    ['lm head dW=dY^T@X', 50304, 768, T, 'dW'],
    // DSC on Q/K/V: the three generators (R = 16 each) ride in the q/k/v matmul (2352 wide;
    // BENCH_DSC_WIDTHS=2352,2368 adds padded widths).
    ...(process.env.BENCH_DSC_WIDTHS ?? '2352').split(',').flatMap((text): typeof shapes => {
      const w = Number(text);
      return [
        [`dsc qkv ${w} x@W^T`, T, w, 768, 'xWt'],
        [`dsc qkv ${w} dX=dY@W`, T, 768, w, 'xW'],
        [`dsc qkv ${w} dW=dY^T@X`, w, 768, T, 'dW'],
      ];
    }),
  ];
  // BENCH_TRAIN_ONLY=text: only the shapes whose name contains it.
  const selected = shapes.filter(([name]) => name.includes(process.env.BENCH_TRAIN_ONLY ?? ''));
  const only = process.env.BENCH_TRAIN_F32?.split(',');
  const f32Tunings = TRAIN_F32.filter(([name]) => !only || only.some((o) => name.includes(o)));
  for (const [name, m, n, k, kind] of selected) {
    // Storage: xWt: A [m, k], W [n, k]; xW: A [m, k], W [k, n]; dW: dY [k, m] (A = dY^T), X [k, n].
    const aLen = m * k;
    const bLen = k * n;
    if (Math.max(aLen, bLen, m * n) * 4 > b.runtime.maxStorageBindingBytes) {
      console.log(`${name}: skipped, a buffer exceeds the binding limit`);
      continue;
    }
    const a = b.alloc(aLen, 'f32');
    const w = b.alloc(bLen, 'f32');
    const out = b.alloc(m * n, 'f32');
    const ref = b.alloc(m * n, 'f32');
    b.random(a, aLen, 'uniform', [-1, 1], 1);
    b.random(w, bLen, 'uniform', [-1, 1], 2);
    const av = view(a, [1, m, k], kind === 'dW' ? [0, 1, m] : [0, k, 1]);
    const bv = view(w, [1, k, n], kind === 'xWt' ? [0, 1, k] : [0, n, 1]);
    const flops = 2 * m * n * k;
    const reps = Math.max(3, Math.min(20, Math.round(1e11 / flops)));
    // The previous default: square tiles (8 x 8 per thread from 200 big tiles on), no split.
    const tmOld = Math.ceil(m / 128) * Math.ceil(n / 128) >= 200 ? 8 : 4;
    const tunings: [string, MatmulTuning][] = [
      ['f32 tiled old default', { variant: 'registerTiled', tm: tmOld, tn: tmOld, splitK: 1 }],
      ...f32Tunings,
      ...(sg
        ? ([
            ['reduced precision (sgmat)', { reducedPrecision: true }],
            // The same-run baseline of split-K (which the automatic choice takes for dW shapes).
            ...(sgmatSplitKFor({ batch: 1, m, n, k }) > 1
              ? ([
                  ['reduced precision (sgmat, unsplit)', { reducedPrecision: true, sgmat: { splits: 1 } }],
                ] as const)
              : []),
          ] as [string, MatmulTuning][])
        : []),
    ];
    const best = new Map<string, { m: Awaited<ReturnType<typeof measure>>; diff: number }>();
    for (let pass = 0; pass < PASSES; pass++)
      for (const [i, [variantName, tuning]] of tunings.entries()) {
        const target = i === 0 ? ref : out;
        b.tuning.matmul = tuning;
        try {
          const r = await measure(b, () => b.matmul(av, bv, target), reps);
          const diff = pass === 0 && i > 0 ? await relDiff(b, out, ref, m * n) : 0;
          const prev = best.get(variantName);
          best.set(variantName, {
            m: !prev || r.ms < prev.m.ms ? r : prev.m,
            diff: Math.max(diff, prev?.diff ?? 0),
          });
        } catch (error) {
          if (pass === 0)
            console.log(`train ${name} ${variantName} n/a: ${(error as Error).message.split('\n')[0]}`);
        } finally {
          b.tuning.matmul = {};
        }
      }
    for (const [variantName, { m: r, diff }] of best) {
      // f32 tilings must match the reference to rounding; reduced precision to f16 input rounding.
      const tol = variantName.startsWith('reduced') ? 2e-3 : 1e-4; // f32: summation order differs (split-K)
      record(
        results,
        `train ${name} [${m}x${n}x${k}] ${variantName}${diff > tol ? ` WRONG (rel diff ${diff.toExponential(1)})` : ''}`,
        r,
        flops / (r.ms * 1e6),
        'GFLOP/s',
      );
    }
    for (const x of [a, w, out, ref]) b.free(x);
    await b.sync();
  }
}

export async function benchMatmulVariants(
  b: WebGPUBackend,
  results: Result[],
  quick: boolean,
): Promise<void> {
  const caps = matmulCaps(b.runtime.device);
  console.log(
    `workgroup storage: ${b.runtime.maxWorkgroupStorageBytes} bytes (adapter/device limit ${b.runtime.device.limits.maxComputeWorkgroupStorageSize})`,
  );
  console.log(
    `matmul caps: subgroup matrices ${caps.subgroupMatrix ? JSON.stringify(caps.subgroupMatrix.shape) : 'none'} (${caps.subgroupMatrixNote})`,
  );
  if (process.env.BENCH_SQUARE !== '0')
    await square(b, results, quick ? 256 : 4096, caps.subgroupMatrix !== null);
  if (!quick && process.env.BENCH_TRAIN_SHAPES !== '0')
    await trainingShapes(b, results, caps.subgroupMatrix !== null);
}
