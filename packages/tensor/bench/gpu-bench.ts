/**
 * WebGPU backend benchmark (not a test): f32 matmul GFLOP/s (1024^3, 4096^3,
 * tile configurations), elementwise add / copy GB/s, a row-sum reduction GB/s
 * and per-dispatch overhead. GPU time comes from timestamp queries around one
 * compute pass when the device has them (best of 3), wall clock over many
 * repetitions with a sync otherwise. Prints a table and writes
 * `bench-results/tensor-<device>.json` (or `$BENCH_OUT/...`).
 *
 * Env: BENCH_OUT (output dir), BENCH_DEVICE (file name tag, default from the
 * adapter info), BENCH_QUICK=1 (small sizes; automatic on CPU adapters).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendBuffer } from '../src/backend.js';
import { requestNodeGpuDevice } from '../src/node.js';
import { WebGPUBackend } from '../src/webgpu/backend.js';
import type { MatmulTuning } from '../src/webgpu/kernels/matmul.js';
import { measure, type Result, record, view } from './bench-util.js';
import { benchMatmulVariants } from './matmul-variants-bench.js';

/** Max relative error of 64 sampled entries of C = A @ B (A, B, C `[size, size]`, B read through `bStrides`). */
async function checkMatmul(
  b: WebGPUBackend,
  a: BackendBuffer,
  w: BackendBuffer,
  out: BackendBuffer,
  size: number,
  bStrides: number[],
): Promise<number> {
  const [ha, hw, hc] = await Promise.all([
    b.read(view(a, [size * size])),
    b.read(view(w, [size * size])),
    b.read(view(out, [size * size])),
  ]);
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const i = (s * 7919) % size;
    const j = (s * 104729) % size;
    let acc = 0;
    for (let k = 0; k < size; k++) acc += ha[i * size + k]! * hw[k * bStrides[0]! + j * bStrides[1]!]!;
    worst = Math.max(worst, Math.abs(hc[i * size + j]! - acc) / Math.max(1e-6, Math.abs(acc)));
  }
  return worst;
}

const checked = (name: string, err: number): string =>
  `${name}${err > 1e-3 ? ` WRONG (rel err ${err.toExponential(1)})` : ''}`;

async function benchMatmul(
  b: WebGPUBackend,
  results: Result[],
  size: number,
  configs: MatmulTuning[],
  label = '',
): Promise<void> {
  const a = b.alloc(size * size, 'f32');
  const w = b.alloc(size * size, 'f32');
  const out = b.alloc(size * size, 'f32');
  b.random(a, size * size, 'uniform', [1, 2], 0);
  b.random(w, size * size, 'uniform', [3, 4], 0);
  const flops = 2 * size ** 3;
  const reps = Math.max(3, Math.min(50, Math.round(2e11 / flops)));
  for (const cfg of configs) {
    b.tuning.matmul = { ...cfg };
    const m = await measure(b, () => b.matmul(view(a, [1, size, size]), view(w, [1, size, size]), out), reps);
    const parts = Object.entries(cfg).map(([k, v]) => `${k}=${v}`);
    const name = `matmul f32 ${size}^3 ${parts.length ? parts.join(' ') : 'auto'}${label}`;
    const err = await checkMatmul(b, a, w, out, size, [size, 1]);
    record(results, checked(name, err), m, flops / (m.ms * 1e6), 'GFLOP/s');
  }
  // A transposed B (x @ W^T, the linear layer's forward) with the default choice.
  b.tuning.matmul = {};
  const mt = await measure(
    b,
    () => b.matmul(view(a, [1, size, size]), view(w, [1, size, size], [0, 1, size]), out),
    reps,
  );
  const errT = await checkMatmul(b, a, w, out, size, [1, size]);
  record(
    results,
    checked(`matmul f32 ${size}^3 A @ B^T${label}`, errT),
    mt,
    flops / (mt.ms * 1e6),
    'GFLOP/s',
  );
  if (b.supportsF16 && !label) {
    b.tuning.matmul = { variant: 'registerTiled' }; // the SIMT kernel; matmul-variants-bench.ts has the others
    const ah = b.alloc(size * size, 'f16');
    const wh = b.alloc(size * size, 'f16');
    b.random(ah, size * size, 'uniform', [1, 2], 0);
    b.random(wh, size * size, 'uniform', [3, 4], 0);
    const mh = await measure(
      b,
      () => b.matmul(view(ah, [1, size, size]), view(wh, [1, size, size]), out),
      reps,
    );
    const errH = await checkMatmul(b, ah, wh, out, size, [size, 1]);
    record(
      results,
      checked(`matmul f16 in / f32 acc ${size}^3 (SIMT)`, errH),
      mh,
      flops / (mh.ms * 1e6),
      'GFLOP/s',
    );
    b.free(ah);
    b.free(wh);
    b.tuning.matmul = {};
  }
  for (const x of [a, w, out]) b.free(x);
  await b.sync();
}

async function benchMemory(b: WebGPUBackend, results: Result[], n: number, label = ''): Promise<void> {
  const x = b.alloc(n, 'f32');
  const y = b.alloc(n, 'f32');
  const z = b.alloc(n, 'f32');
  b.fill(x, n, 1);
  b.fill(y, n, 2);
  const reps = 20;
  const add = await measure(b, () => b.binary('add', view(x, [n]), view(y, [n]), z), reps);
  const zs = await b.read(view(z, [n]));
  const addOk = zs[0] === 3 && zs[n - 1] === 3 && zs[n >> 1] === 3;
  record(
    results,
    `add f32 ${n / 2 ** 20}M (3 x ${(n * 4) / 2 ** 20} MiB)${addOk ? '' : ' WRONG'}${label}`,
    add,
    (3 * n * 4) / (add.ms * 1e6),
    'GB/s',
  );
  const copy = await measure(b, () => b.copy(view(x, [n]), view(z, [n])), reps);
  record(results, `copy f32 ${n / 2 ** 20}M${label}`, copy, (2 * n * 4) / (copy.ms * 1e6), 'GB/s');
  const cols = 16384;
  const rows = n / cols;
  const s = b.alloc(rows, 'f32');
  const sum = await measure(b, () => b.reduce('sum', view(x, [rows, cols]), 1, s), reps);
  const sumOk = (await b.read(view(s, [rows]))).every((v) => v === cols);
  record(
    results,
    `sum over rows [${rows}, ${cols}] f32${sumOk ? '' : ' WRONG'}${label}`,
    sum,
    (n * 4) / (sum.ms * 1e6),
    'GB/s',
  );
  const colSum = b.alloc(cols, 'f32');
  const csum = await measure(b, () => b.reduce('sum', view(x, [cols, rows], [1, cols]), 1, colSum), reps);
  const csumOk = (await b.read(view(colSum, [cols]))).every((v) => v === rows);
  record(
    results,
    `sum over columns [${rows}, ${cols}] f32${csumOk ? '' : ' WRONG'}${label}`,
    csum,
    (n * 4) / (csum.ms * 1e6),
    'GB/s',
  );
  const sm = await measure(b, () => b.softmax(x, rows, cols, z, false), reps);
  const smOk = Math.abs((await b.read(view(z, [4])))[0]! - 1 / cols) < 1e-9;
  record(
    results,
    `softmax [${rows}, ${cols}] f32${smOk ? '' : ' WRONG'}${label}`,
    sm,
    (2 * n * 4) / (sm.ms * 1e6),
    'GB/s',
  );
  for (const t of [x, y, z, s, colSum]) b.free(t);
  await b.sync();
}

async function benchDispatch(b: WebGPUBackend, results: Result[], label = ''): Promise<void> {
  const x = b.alloc(256, 'f32');
  const y = b.alloc(256, 'f32');
  const count = 2000;
  const chain = () => {
    for (let i = 0; i < count / 2; i++) {
      b.unary('affine', view(x, [256]), y, 1, 1);
      b.unary('affine', view(y, [256]), x, 1, 1);
    }
  };
  const m = await measure(b, chain, 1);
  const per = (ms: number) => ({ ms: ms / count, wallMs: ms / count, gpu: false });
  record(
    results,
    `dispatch GPU time (${count} dependent tiny ops)${label}`,
    { ...m, ms: m.ms / count, wallMs: m.wallMs / count },
    (m.ms / count) * 1000,
    'us',
  );
  record(
    results,
    `dispatch wall (encode + submit + GPU, serial)${label}`,
    per(m.wallMs),
    (m.wallMs / count) * 1000,
    'us',
  );
  // Split the wall time: recording (JS + Dawn encode), submit (Dawn backend translation), wait.
  let best = { encode: Infinity, submit: Infinity, wait: Infinity };
  for (let trial = 0; trial < 3; trial++) {
    const t0 = performance.now();
    chain();
    const t1 = performance.now();
    b.runtime.flush();
    const t2 = performance.now();
    await b.sync();
    const t3 = performance.now();
    if (t3 - t0 < best.encode + best.submit + best.wait)
      best = { encode: t1 - t0, submit: t2 - t1, wait: t3 - t2 };
  }
  record(
    results,
    `  of which encode (JS + Dawn record)${label}`,
    per(best.encode),
    (best.encode / count) * 1000,
    'us',
  );
  record(
    results,
    `  of which submit (Dawn backend)${label}`,
    per(best.submit),
    (best.submit / count) * 1000,
    'us',
  );
  record(results, `  of which GPU wait${label}`, per(best.wait), (best.wait / count) * 1000, 'us');
  // Independent dispatches (distinct outputs): no barriers between them.
  const outs = Array.from({ length: 64 }, () => b.alloc(256, 'f32'));
  const spread = await measure(
    b,
    () => {
      for (let i = 0; i < count; i++) b.unary('affine', view(x, [256]), outs[i % 64]!, 1, 1);
    },
    1,
  );
  record(
    results,
    `dispatch wall, independent outputs${label}`,
    per(spread.wallMs),
    (spread.wallMs / count) * 1000,
    'us',
  );
  for (const t of [x, y, ...outs]) b.free(t);
  await b.sync();
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'unknown';

async function main(): Promise<void> {
  const opened = await requestNodeGpuDevice();
  const info = opened.adapterInfo;
  const deviceName = `${info.vendor} ${info.architecture} ${info.description || info.device}`.trim();
  const cpuAdapter = /llvmpipe|swiftshader|lavapipe/i.test(
    `${info.description} ${info.device} ${info.architecture}`,
  );
  const quick = process.env.BENCH_QUICK === '1' || cpuAdapter;
  console.log(
    `device: ${deviceName} (${opened.backend}, robustness ${opened.robustness ? 'on' : 'off'}); features: ${opened.features.join(', ')}${quick ? '; QUICK sizes' : ''}`,
  );
  const b = new WebGPUBackend(opened.device, { poison: false, onDestroy: () => opened.device.destroy() });
  const results: Result[] = [];
  console.log(`${'benchmark'.padEnd(44)} ${'value'.padStart(10)} ${'unit'.padEnd(8)} ${'time'.padStart(12)}`);
  // BENCH_SECTIONS=variants,... runs a subset (device time is scarce).
  const sections = new Set(
    (process.env.BENCH_SECTIONS ?? 'dispatch,memory,matmul,variants,robustness').split(','),
  );
  if (sections.has('dispatch')) await benchDispatch(b, results);
  if (sections.has('memory')) await benchMemory(b, results, quick ? 2 ** 20 : 2 ** 26);
  const configs: MatmulTuning[] = [{}, { bk: 16, pad: 0 }, { bk: 16 }, { bk: 8, warpTile: false }];
  if (sections.has('matmul')) {
    await benchMatmul(b, results, quick ? 128 : 1024, [{}, { tm: 8 }]);
    await benchMatmul(b, results, quick ? 256 : 4096, quick ? [{}] : configs);
  }
  if (sections.has('variants')) await benchMatmulVariants(b, results, quick);
  b.destroy();

  if (!quick && sections.has('robustness')) {
    // The other robustness setting, for comparison (Dawn's bounds clamping and workgroup zero-init).
    const other = await requestNodeGpuDevice({ robustness: !opened.robustness });
    const label = ` [robustness ${other.robustness ? 'on' : 'off'}]`;
    const bo = new WebGPUBackend(other.device, { poison: false, onDestroy: () => other.device.destroy() });
    await benchMatmul(bo, results, 1024, [{}], label);
    await benchMatmul(bo, results, 4096, [{}], label);
    await benchMemory(bo, results, 2 ** 26, label);
    await benchDispatch(bo, results, label);
    bo.destroy();
  }

  const here = dirname(fileURLToPath(import.meta.url));
  const outDir = process.env.BENCH_OUT ?? join(here, '..', 'bench-results');
  mkdirSync(outDir, { recursive: true });
  // WebGPU does not expose the GPU model on every driver (NVIDIA reports only the driver version): BENCH_DEVICE names it.
  const file = join(outDir, `tensor-${slug(process.env.BENCH_DEVICE ?? deviceName)}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        device: deviceName,
        adapter: {
          vendor: info.vendor,
          architecture: info.architecture,
          device: info.device,
          description: info.description,
        },
        backend: opened.backend,
        matmulCaps: opened.matmulCaps,
        features: opened.features,
        quick,
        date: new Date().toISOString(),
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${file}`);
}

await main();
