/**
 * Norm kernels, round 3: per-dispatch GPU time (the runtime's profiler) of HEAD's kernels
 * (norm-head.wgsl.ts, a copy of round 2) beside the new ones on RMSNorm [ROWS, N] f32, with
 * each variant's outputs checked against a float64 reference and the new backward rerun for
 * bitwise equality. Prints a table and writes JSON to $OUT/norm-bench.json.
 */
import { writeFileSync } from 'node:fs';
import { createNodeWebGPUBackend } from '../../../../packages/tensor/src/node.js';
import type { WebGPUBuffer } from '../../../../packages/tensor/src/webgpu/buffer.js';
import * as cur from '../../../../packages/tensor/src/webgpu/kernels/norm.wgsl.js';
import { rowUniforms } from '../../../../packages/tensor/src/webgpu/kernels/softmax.wgsl.js';
import * as head from './norm-head.wgsl.js';

const ROWS = Number(process.env.ROWS ?? 8192);
const N = Number(process.env.N ?? 768);
const ITERS = Number(process.env.ITERS ?? 200);
const eps = 1e-5;

const backend = await createNodeWebGPUBackend();
const rt = backend.runtime;
let seed = 1;
const rand = (len: number, lo = -1, hi = 1) =>
  Float32Array.from({ length: len }, () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return lo + ((hi - lo) * seed) / 2 ** 32;
  });
const xs = rand(ROWS * N, -2, 3);
const rs = rand(ROWS * N);
const ws = rand(N, 0.5, 1.5);
const dys = rand(ROWS * N);
const drs = rand(ROWS * N);
const up = (a: Float32Array) => backend.upload(a, 'f32') as WebGPUBuffer;
const [x, res, w, dy, dres] = [xs, rs, ws, dys, drs].map(up) as WebGPUBuffer[];
const alloc = (len: number) => backend.alloc(len, 'f32') as WebGPUBuffer;
const read = async (b: WebGPUBuffer) => new Float32Array(await rt.read(b.gpu, 0, b.length * 4));

// float64 reference: h = x + res, out = h rstd w, dx = rstd (g - xhat mean(g xhat)) + dres, dW = Σ dy xhat.
const hs = Float32Array.from(xs, (v, i) => v + rs[i]!);
const refOut = new Float64Array(ROWS * N);
const refOutPlain = new Float64Array(ROWS * N);
const refDx = new Float64Array(ROWS * N);
const refDxPlain = new Float64Array(ROWS * N);
const refDw = new Float64Array(N);
const rstdOf = (a: Float32Array, base: number) => {
  let s = 0;
  for (let j = 0; j < N; j++) s += a[base + j]! ** 2;
  return 1 / Math.sqrt(s / N + eps);
};
for (let r = 0; r < ROWS; r++) {
  const base = r * N;
  for (const [src, out, dx, addRes] of [
    [hs, refOut, refDx, true],
    [xs, refOutPlain, refDxPlain, false],
  ] as const) {
    const rsd = rstdOf(src, base);
    let c = 0;
    for (let j = 0; j < N; j++) c += dys[base + j]! * ws[j]! * src[base + j]! * rsd;
    c /= N;
    for (let j = 0; j < N; j++) {
      const h = src[base + j]! * rsd;
      out[base + j] = h * ws[j]!;
      dx[base + j] = rsd * (dys[base + j]! * ws[j]! - h * c) + (addRes ? drs[base + j]! : 0);
      if (addRes) refDw[j] = refDw[j]! + dys[base + j]! * h;
    }
  }
}
const maxErr = (got: Float32Array, want: Float64Array) => {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!) || (Number.isNaN(got[i]!) ? Infinity : 0));
  return m;
};

type Bufs = WebGPUBuffer[];
const dispatch = (key: string, code: string, bufs: Bufs, nIn: number, rows: number, n: number, wgs: number) =>
  rt.dispatch({
    pipelineKey: key,
    makeCode: () => code,
    bindings: bufs.map((b, i) => ({ buffer: b.gpu, ...(i >= nIn ? { write: true } : {}) })),
    uniforms: rowUniforms.pack({ rows, n, ignore: -1, eps }),
    workgroups: wgs,
  });

const out = alloc(ROWS * N);
const sum = alloc(ROWS * N);
const rstd = alloc(ROWS);
const dx = alloc(ROWS * N);
const dw = alloc(N);

interface Variant {
  name: string;
  /** Records one call; keys start with the variant name. */
  run: () => void;
  check: () => Promise<Record<string, number>>;
}
const fwdBase = { kind: 'rms' as const, x: 'f32' as const, out: 'f32' as const, weight: 'f32' as const, bias: null };
const bwdBase = { kind: 'rms' as const, x: 'f32' as const, dy: 'f32' as const, dx: 'f32' as const, weight: 'f32' as const };
const variants: Variant[] = [];

for (const residual of [false, true]) {
  const tag = residual ? 'fwd+res' : 'fwd';
  const bufs = residual ? [x, res, w, out, sum, rstd] : [x, w, out, rstd];
  const nIn = residual ? 3 : 2;
  const check = async () => ({ out: maxErr(await read(out), residual ? refOut : refOutPlain) });
  const hp = { ...fwdBase, residual: residual ? ('f32' as const) : null, wg: 128 };
  variants.push({
    name: `head ${tag}`,
    run: () => dispatch(`head ${tag}|`, head.normWgsl(hp), bufs, nIn, ROWS, N, ROWS),
    check,
  });
  for (const wg of [64, 128, 256]) {
    const nv = N / 4;
    const p = { ...fwdBase, residual: residual ? ('f32' as const) : null, vec: 4 as const, wg, k: Math.ceil(nv / wg) };
    variants.push({
      name: `new ${tag} wg${wg}`,
      run: () => dispatch(`new ${tag} wg${wg}|`, cur.normWgsl(p), bufs, nIn, ROWS, N, ROWS),
      check,
    });
  }
}

// The forward outputs the backward reads (sum, rstd) are recomputed before the backward variants.
const prepare = (residual: boolean) => {
  const p = { ...fwdBase, residual: residual ? ('f32' as const) : null, ...cur.normLayout(N) };
  const bufs = residual ? [x, res, w, out, sum, rstd] : [x, w, out, rstd];
  dispatch('prep|', cur.normWgsl(p), bufs, residual ? 3 : 2, ROWS, N, ROWS);
};

// Plain per-row backward (no residual, no weight gradient).
{
  const bufs = [x, w, rstd, dy, dx];
  const check = async () => ({ dx: maxErr(await read(dx), refDxPlain) });
  const hp = { ...bwdBase, partials: null, wg: 128 };
  variants.push({
    name: 'head bwd',
    run: () => dispatch('head bwd|', head.normBackwardWgsl(hp), bufs, 4, ROWS, N, ROWS),
    check,
  });
  for (const wg of [64, 128]) {
    const p = { ...bwdBase, partials: null, vec: 4 as const, wg, k: Math.ceil(N / 4 / wg) };
    variants.push({
      name: `new bwd wg${wg}`,
      run: () => dispatch(`new bwd wg${wg}|`, cur.normBackwardWgsl(p), bufs, 4, ROWS, N, ROWS),
      check,
    });
  }
}

// The training-step backward: dresidual + weight gradient (partials + column sum).
const checkFull = async () => ({ dx: maxErr(await read(dx), refDx), dw: maxErr(await read(dw), refDw) });
{
  const block = 8;
  const blocks = Math.ceil(ROWS / block);
  const part = alloc(blocks * N);
  const hp = { ...bwdBase, dresidual: 'f32' as const, partials: 'w' as const, block, wg: 128 };
  variants.push({
    name: 'head bwd+res+dw R8',
    run: () => {
      dispatch('head bwd+res+dw R8|', head.normBackwardWgsl(hp), [sum, w, rstd, dy, dres, dx, part], 5, ROWS, N, blocks);
      dispatch('head bwd+res+dw R8|colsum', head.normColumnSumWgsl('f32'), [part, dw], 1, blocks, N, Math.ceil(N / 32));
    },
    check: checkFull,
  });
}
const newColumnSum = (name: string, part: WebGPUBuffer, rows: number) => {
  let src = part;
  let left = rows;
  for (let pass = 0; ; pass++) {
    const chunks = Math.max(1, Math.ceil(left / cur.COLUMN_SUM_CHUNK));
    const dst = chunks === 1 ? dw : alloc(chunks * N);
    dispatch(`${name}|colsum${pass}`, cur.normColumnSumWgsl('f32'), [src, dst], 1, left, N, chunks * Math.ceil(N / cur.COLUMN_SUM_COLS));
    if (src !== part) backend.free(src);
    if (dst === dw) return;
    src = dst;
    left = chunks;
  }
};
for (const block of [1, 2, 4, 8]) {
  for (const wg of [64, 128]) {
    const blocks = Math.ceil(ROWS / block);
    const part = alloc(blocks * N);
    const p = { ...bwdBase, dresidual: 'f32' as const, partials: 'w' as const, block, vec: 4 as const, wg, k: Math.ceil(N / 4 / wg) };
    const name = `new bwd+res+dw R${block} wg${wg}`;
    variants.push({
      name,
      run: () => {
        dispatch(`${name}|`, cur.normBackwardWgsl(p), [sum, w, rstd, dy, dres, dx, part], 5, ROWS, N, blocks);
        newColumnSum(name, part, blocks);
      },
      check: checkFull,
    });
  }
}
// As shipped (the backend's own choices).
variants.push({
  name: 'backend bwd+res+dw',
  run: () =>
    backend.normBackward({ kind: 'rms', x: sum, weight: w, mean: null, rstd, dy, rows: ROWS, n: N, dx, dresidual: dres, dweight: dw, dbias: null }),
  check: checkFull,
});

const rows: { variant: string; us: number; dispatches: number; errors: Record<string, number> }[] = [];
for (const v of variants) {
  prepare(v.name.includes('res'));
  for (let i = 0; i < 3; i++) v.run(); // warm-up (pipelines compiled)
  await backend.sync();
  const errors = await v.check();
  // Without timestamp queries (llvmpipe) this only checks the results.
  const profiling = rt.startProfile();
  for (let i = 0; i < ITERS; i++) v.run();
  const prof = profiling ? await rt.stopProfile() : new Map();
  await backend.sync();
  let ms = 0;
  let dispatches = 0;
  for (const [key, t] of prof)
    if (key.startsWith(`${v.name}|`) || (v.name.startsWith('backend') && /^norm/.test(key))) {
      ms += t.ms;
      dispatches += t.dispatches;
    }
  rows.push({ variant: v.name, us: (1000 * ms) / ITERS, dispatches: dispatches / ITERS, errors });
}

// Determinism: the shipped backward twice, bitwise.
prepare(true);
const runs: Float32Array[] = [];
for (let i = 0; i < 2; i++) {
  backend.normBackward({ kind: 'rms', x: sum, weight: w, mean: null, rstd, dy, rows: ROWS, n: N, dx, dresidual: dres, dweight: dw, dbias: null });
  runs.push(Float32Array.from([...(await read(dw)), ...(await read(dx)).subarray(0, 65536)]));
}
const bitwise = runs[0]!.every((v, i) => Object.is(v, runs[1]![i]));

console.log(`RMSNorm [${ROWS}, ${N}] f32, ${ITERS} calls each, GPU µs per call (sum over its dispatches)`);
console.log('| variant | µs/call | dispatches | max abs err vs f64 |');
console.log('| ------- | ------- | ---------- | ------------------ |');
for (const r of rows)
  console.log(
    `| ${r.variant} | ${r.us.toFixed(1)} | ${r.dispatches} | ${Object.entries(r.errors)
      .map(([k, e]) => `${k} ${e.toExponential(1)}`)
      .join(', ')} |`,
  );
console.log(`new backward rerun bitwise equal: ${bitwise}`);
const outDir = process.env.OUT;
if (outDir) writeFileSync(`${outDir}/norm-bench.json`, JSON.stringify({ rows: ROWS, n: N, iters: ITERS, results: rows, bitwise }, null, 1));
backend.destroy();
