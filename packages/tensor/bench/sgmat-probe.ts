/**
 * Where the matmul kernels lose time (issue 9): hand-written WGSL probes and
 * variants of the shipped kernels on the device, each timed with timestamp
 * queries (best of `PROBE_PASSES` passes, default 3: the GPU clocks up from
 * idle during the first). Results: docs/results/perf-h100-session5/.
 *
 * Always: the shipped subgroup-matrix kernel at 4096³ over a few tilings
 * (`PROBE_LAYOUTS`, default `AB,BT,AT`; `none` skips), f16 and f32 inputs,
 * each checked against a float64 sample, and the f32 SIMT kernel.
 * Switches:
 * - `PROBE_LOOPS=1`: MMA loops on matrices loaded once, and reloaded from
 *   shared memory every K-step for each majorness (the tensor-core ceiling).
 * - `PROBE_ABLATIONS=1` / `PROBE_SIMT=1`: the subgroup-matrix / SIMT kernel
 *   with parts of its K loop removed (loads, stores, barriers; timing only).
 * - `PROBE_MATRIX_STAGING=1`: staging through `subgroupMatrixLoad` from the
 *   storage buffer and `subgroupMatrixStore` into shared memory.
 * - `PROBE_SIMT_SWEEP=1`: more SIMT tilings at 4096³.
 * - `PROBE_STEP=1`: the A·B shapes of the mixed training step over tilings
 *   and K splits; `PROBE_STEP=<text>`: the shapes whose label has it, default choice.
 *
 * Run: `bundle.sh DIR`, then (device) `BENCH_OUT=$OUT node DIR/sgmat-probe.mjs`.
 * Writes `sgmat-probe.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestNodeGpuDevice } from '../src/node.js';
import { WebGPUBackend } from '../src/webgpu/backend.js';
import { gpuBufferOf } from '../src/webgpu/buffer.js';
import type { MatmulTuning } from '../src/webgpu/kernels/matmul.js';
import { matmulUniforms, matmulWgsl } from '../src/webgpu/kernels/matmul.wgsl.js';
import { matmulCaps } from '../src/webgpu/kernels/matmul-caps.js';
import type { SgMatTiling } from '../src/webgpu/kernels/matmul-sgmat.js';
import { type SgMatmulParams, type SgMatSyntax, sgmatWgsl } from '../src/webgpu/kernels/matmul-sgmat.wgsl.js';
import { UniformStruct } from '../src/webgpu/uniforms.js';
import { measure, type Result, record, sampledError, view } from './bench-util.js';

const SG = 32;
const uniforms = new UniformStruct([
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'iters', type: 'u32' },
]);

const header = (s: SgMatSyntax): string => `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, ${s.diagnostic}.subgroup_matrix_uniformity);
${uniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;`;

const ld = (s: SgMatSyntax, type: string, ptr: string, off: string, col: boolean, stride: string): string =>
  s.builtins === 'template'
    ? `subgroupMatrixLoad<${type}, ${col ? 'col_major' : 'row_major'}>(${ptr}, ${off}, ${stride})`
    : `subgroupMatrixLoad<${type}>(${ptr}, ${off}, ${col}, ${stride})`;
const st = (s: SgMatSyntax, ptr: string, off: string, v: string, col: boolean, stride: string): string =>
  s.builtins === 'template'
    ? `subgroupMatrixStore<${col ? 'col_major' : 'row_major'}>(${ptr}, ${off}, ${v}, ${stride})`
    : `subgroupMatrixStore(${ptr}, ${off}, ${v}, ${col}, ${stride})`;

interface Loop {
  /** Result matrices per subgroup. */
  tilesM: number;
  tilesN: number;
  /** Right/result matrix width (16 or 8). */
  n: number;
  /** Reload left/right matrices from shared memory every step (else load once). */
  reload: boolean;
  aCol: boolean;
  bCol: boolean;
  subgroups: number;
}

/** A loop of MMAs over a 128 x 32 (A) and 32 x 128 (B) shared tile, laid out as the kernel lays them out. */
function loopWgsl(s: SgMatSyntax, p: Loop): string {
  const L = 'subgroup_matrix_left<f16, 16, 16>';
  const R = `subgroup_matrix_right<f16, ${p.n}, 16>`;
  const RES = `subgroup_matrix_result<f32, ${p.n}, 16>`;
  // A: [m][k] (lda 40, row-major loads) or [k][m] (lda 136, column-major); B: [k][n] (ldb 136) or [n][k] (40).
  const lda = p.aCol ? 136 : 40;
  const ldb = p.bCol ? 40 : 136;
  const size = 128 * 40 + 32 * 136;
  const aOff = (i: number, k: string): string =>
    p.aCol ? `${k} * ${lda}u + am0 + ${i * 16}u` : `(am0 + ${i * 16}u) * ${lda}u + ${k}`;
  const bOff = (j: number, k: string): string =>
    p.bCol ? `4352u + (bn0 + ${j * p.n}u) * ${ldb}u + ${k}` : `4352u + ${k} * ${ldb}u + bn0 + ${j * p.n}u`;
  const loads = (k: string, decl: string): string[] => [
    ...Array.from(
      { length: p.tilesM },
      (_, i) => `${decl}a${i} = ${ld(s, L, '&S', aOff(i, k), p.aCol, `${lda}u`)};`,
    ),
    ...Array.from(
      { length: p.tilesN },
      (_, j) => `${decl}b${j} = ${ld(s, R, '&S', bOff(j, k), p.bCol, `${ldb}u`)};`,
    ),
  ];
  const acc: string[] = [];
  const mma: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < p.tilesM; i++)
    for (let j = 0; j < p.tilesN; j++) {
      acc.push(`var c${i}_${j} = ${RES}();`);
      mma.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`);
      out.push(
        `${st(s, '&C', `((wid.x * ${p.subgroups}u + sg) * ${p.tilesM * p.tilesN}u + ${i * p.tilesN + j}u) * ${16 * p.n}u`, `c${i}_${j}`, false, `${p.n}u`)};`,
      );
    }
  const sgN = 2;
  return `${header(s)}
@group(0) @binding(1) var<storage, read> A: array<f16>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
var<workgroup> S: array<f16, ${size}>;
@compute @workgroup_size(${p.subgroups * SG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < ${size}u; e += ${p.subgroups * SG}u) { S[e] = A[e]; }
  workgroupBarrier();
  let sg = lid / ${SG}u;
  let am0 = ((sg / ${sgN}u) % 2u) * ${p.tilesM * 16}u;
  let bn0 = (sg % ${sgN}u) * ${p.tilesN * p.n}u;
  ${acc.join('\n  ')}
  ${p.reload ? '' : loads('0u', 'let ').join('\n  ')}
  for (var t = 0u; t < u.iters; t++) {
    ${p.reload ? loads('(t & 1u) * 16u', 'let ').join('\n    ') : ''}
    ${mma.join('\n    ')}
  }
  ${out.join('\n  ')}
}`;
}

interface Staged {
  /** B stored [n][k] (x·Wᵀ): loaded column-major from global, stored [k][n]. */
  bT: boolean;
  /** A stored [k][m] (dW): loaded column-major from global, stored [m][k]. */
  aT: boolean;
  bk: number;
}

/**
 * C = A·B for M, N multiples of 128 and K of bk, f16 in, f32 out, on 2 x 2
 * subgroups of 4 x 4 16x16 matrices. Staging: each subgroup loads its share
 * of the next K-tile's 16x16 matrices from global memory (prefetch), and
 * after the MMAs stores them into shared memory, A as [m][k] and B as
 * [k][n] whatever their global layout (the fragment transposes for free).
 */
function stagedWgsl(s: SgMatSyntax, p: Staged): string {
  const L = 'subgroup_matrix_left<f16, 16, 16>';
  const R = 'subgroup_matrix_right<f16, 16, 16>';
  const RES = 'subgroup_matrix_result<f32, 16, 16>';
  const { bk } = p;
  const lda = bk + 8;
  const ldb = 136;
  const ks = bk / 16;
  const per = (8 * ks) / 4; // matrices of each operand per subgroup per K-tile
  const fetch: string[] = [];
  const store: string[] = [];
  for (let q = 0; q < per; q++) {
    // Matrix index q*4+sg: row block (of 8) and k block (of ks).
    const idx = `(${q * 4}u + sg)`;
    fetch.push(`{ let mi = ${idx} / ${ks}u; let ki = ${idx} % ${ks}u;`);
    fetch.push(
      p.aT
        ? `  pa${q} = ${ld(s, L, '&A', '(k0 + ki * 16u) * u.M + m0 + mi * 16u', true, 'u.M')}; }`
        : `  pa${q} = ${ld(s, L, '&A', '(m0 + mi * 16u) * u.K + k0 + ki * 16u', false, 'u.K')}; }`,
    );
    fetch.push(`{ let ni = ${idx} / ${ks}u; let ki = ${idx} % ${ks}u;`);
    fetch.push(
      p.bT
        ? `  pb${q} = ${ld(s, R, '&B', '(n0 + ni * 16u) * u.K + k0 + ki * 16u', true, 'u.K')}; }`
        : `  pb${q} = ${ld(s, R, '&B', '(k0 + ki * 16u) * u.N + n0 + ni * 16u', false, 'u.N')}; }`,
    );
    store.push(`{ let mi = ${idx} / ${ks}u; let ki = ${idx} % ${ks}u;`);
    store.push(`  ${st(s, '&As', `mi * ${16 * lda}u + ki * 16u`, `pa${q}`, false, `${lda}u`)}; }`);
    store.push(`{ let ni = ${idx} / ${ks}u; let ki = ${idx} % ${ks}u;`);
    store.push(`  ${st(s, '&Bs', `ki * ${16 * ldb}u + ni * 16u`, `pb${q}`, false, `${ldb}u`)}; }`);
  }
  const regs = Array.from({ length: per }, (_, q) => `var pa${q}: ${L}; var pb${q}: ${R};`);
  const acc: string[] = [];
  const inner: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) {
      acc.push(`var c${i}_${j} = ${RES}();`);
      out.push(
        `${st(s, '&C', `(m0 + am0 + ${i * 16}u) * u.N + n0 + bn0 + ${j * 16}u`, `c${i}_${j}`, false, 'u.N')};`,
      );
    }
  for (let kk = 0; kk < bk; kk += 16) {
    inner.push('{');
    for (let i = 0; i < 4; i++)
      inner.push(
        `let a${i} = ${ld(s, L, '&As', `(am0 + ${i * 16}u) * ${lda}u + ${kk}u`, false, `${lda}u`)};`,
      );
    for (let j = 0; j < 4; j++)
      inner.push(`let b${j} = ${ld(s, R, '&Bs', `${kk * ldb}u + bn0 + ${j * 16}u`, false, `${ldb}u`)};`);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        inner.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`);
    inner.push('}');
  }
  return `${header(s)}
@group(0) @binding(1) var<storage, read> A: array<f16>;
@group(0) @binding(2) var<storage, read> B: array<f16>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
var<workgroup> As: array<f16, ${128 * lda}>;
var<workgroup> Bs: array<f16, ${bk * ldb}>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sg = lid / 32u;
  let am0 = (sg / 2u) * 64u;
  let bn0 = (sg % 2u) * 64u;
  let m0 = wid.y * 128u;
  let n0 = wid.x * 128u;
  ${regs.join('\n  ')}
  ${acc.join('\n  ')}
  let tiles = u.K / ${bk}u;
  { let k0 = 0u;
    ${fetch.join('\n    ')}
  }
  ${store.join('\n  ')}
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let k0 = (t + 1u) * ${bk}u;
    if (t + 1u < tiles) {
      ${fetch.join('\n      ')}
    }
    ${inner.join('\n    ')}
    workgroupBarrier();
    if (t + 1u < tiles) {
      ${store.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${out.join('\n  ')}
}`;
}

/** The block `{ ... }` that starts at `open` (index of its `{`): end index past the `}`. */
function blockEnd(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}' && --depth === 0) return i + 1;
  }
  throw new Error('unbalanced WGSL');
}

/** The shipped kernel with parts of its K loop removed (timing only: the results are wrong). */
function ablate(code: string, cut: readonly string[]): string {
  const loop = code.indexOf('for (var t = 0u; t < tiles; t++) {');
  const guard = 'if (t + 1u < tiles) {';
  const first = code.indexOf(guard, loop);
  const second = code.indexOf(guard, blockEnd(code, first + guard.length - 1));
  const end = blockEnd(code, code.indexOf('{', loop));
  let body = code.slice(loop, end);
  const cutBlock = (b: string, at: number): string =>
    b.slice(0, at) + b.slice(blockEnd(b, at + guard.length - 1));
  if (cut.includes('stores')) body = cutBlock(body, second - loop);
  if (cut.includes('loads')) body = cutBlock(body, first - loop);
  if (cut.includes('barriers')) body = body.replaceAll('workgroupBarrier();', '');
  return code.slice(0, loop) + body + code.slice(end);
}

async function main(): Promise<void> {
  const opened = await requestNodeGpuDevice();
  const b = new WebGPUBackend(opened.device, { poison: false, onDestroy: () => opened.device.destroy() });
  const rt = b.runtime;
  const caps = matmulCaps(opened.device).subgroupMatrix;
  console.log(
    `device: ${opened.adapterInfo.description || opened.adapterInfo.vendor}; sgmat ${caps ? JSON.stringify(caps.shape) : 'none'}; workgroup memory ${rt.maxWorkgroupStorageBytes} B`,
  );
  if (!caps) return;
  const s = caps.syntax;
  const results: Result[] = [];
  const size = 4096;
  const a = b.alloc(size * size, 'f16');
  const w = b.alloc(size * size, 'f16');
  b.random(a, size * size, 'uniform', [-1, 1], 1);
  b.random(w, size * size, 'uniform', [-1, 1], 2);
  const out = b.alloc(size * size, 'f32');
  // The same values in f32 (reduced precision rounds them back to f16 on load).
  const a32 = b.alloc(size * size, 'f32');
  const w32 = b.alloc(size * size, 'f32');
  b.copy(view(a, [size * size]), view(a32, [size * size]));
  b.copy(view(w, [size * size]), view(w32, [size * size]));
  const buf = gpuBufferOf;

  // Loops: 528 workgroups (4 per SM), 2048 K-steps each.
  const iters = 2048;
  const loops: [string, Loop][] = [];
  for (const n of [16, 8]) {
    const tilesN = 64 / n;
    loops.push([
      `mma-only 16x${n}x16 t4x${tilesN}`,
      { tilesM: 4, tilesN, n, reload: false, aCol: false, bCol: false, subgroups: 4 },
    ]);
    for (const aCol of [false, true])
      for (const bCol of [false, true])
        loops.push([
          `lds+mma 16x${n}x16 t4x${tilesN} A ${aCol ? 'col' : 'row'} B ${bCol ? 'col' : 'row'}`,
          { tilesM: 4, tilesN, n, reload: true, aCol, bCol, subgroups: 4 },
        ]);
  }
  loops.push([
    'lds+mma 16x16x16 t2x4 8 subgroups',
    { tilesM: 2, tilesN: 4, n: 16, reload: true, aCol: false, bCol: false, subgroups: 8 },
  ]);
  loops.push([
    'lds+mma 16x16x16 t2x2 4 subgroups',
    { tilesM: 2, tilesN: 2, n: 16, reload: true, aCol: false, bCol: false, subgroups: 4 },
  ]);
  for (const [name, p] of process.env.PROBE_LOOPS === '1' ? loops : []) {
    const wgs = 528;
    const flops = wgs * p.subgroups * iters * p.tilesM * p.tilesN * 2 * 16 * p.n * 16;
    try {
      const m = await measure(
        b,
        () =>
          rt.dispatch({
            pipelineKey: `probe|${name}`,
            makeCode: () => loopWgsl(s, p),
            bindings: [{ buffer: buf(a) }, { buffer: buf(out), write: true }],
            uniforms: uniforms.pack({ M: 0, N: 0, K: 0, iters }),
            workgroups: [wgs, 1, 1],
          }),
        5,
      );
      record(results, name, m, flops / (m.ms * 1e6), 'GFLOP/s');
    } catch (e) {
      console.log(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  // 4096³ matmuls: shipped kernel vs matrix-staged.
  const ha = (await b.read(view(a, [size * size]))) as Float32Array;
  const hw = (await b.read(view(w, [size * size]))) as Float32Array;
  const flops = 2 * size ** 3;
  const check = async (aT: boolean, bT: boolean): Promise<number> =>
    sampledError(
      ha,
      hw,
      (await b.read(view(out, [size * size]))) as Float32Array,
      [size, size, size],
      aT ? [1, size] : [size, 1],
      bT ? [1, size] : [size, 1],
      { floor: 1 },
    );
  const staged: { name: string; aT: boolean; bT: boolean; run: () => void; flops?: number }[] = [];
  // Ablations of the shipped kernel (A·B, f16, 128 x 128, bk 32, 8-wide loads): the named parts of the K loop removed.
  const params: SgMatmulParams = {
    aDtype: 'f16',
    bDtype: 'f16',
    outDtype: 'f32',
    aLoad: 'k4',
    bLoad: 'n4',
    shape: caps.shape,
    sgM: 2,
    sgN: 2,
    tilesM: 4,
    tilesN: 4,
    bk: 32,
    directStore: true,
    doubleBuffer: false,
    syntax: s,
    vec: 8,
  };
  const shipped = sgmatWgsl(params);
  const ablations: [string, string[]][] = [
    ['full kernel', []],
    ['no prefetch loads', ['loads']],
    ['no shared stores', ['stores']],
    ['no barriers in loop', ['barriers']],
    ['no stores, no barriers', ['stores', 'barriers']],
    ['no loads, no barriers', ['loads', 'barriers']],
  ];
  const u = matmulUniforms.pack({
    M: size,
    N: size,
    K: size,
    batchBase: 0,
    aOff: 0,
    aBatch: 0,
    aRow: size,
    aCol: 1,
    bOff: 0,
    bBatch: 0,
    bRow: size,
    bCol: 1,
    kChunk: size,
  });
  // The same ablations of the f32 register-tiled kernel (128 x 128 tm 8 bk 8, and 128 x 256 bk 16).
  for (const [label, tn, bk] of [
    ['simt 128x128 bk8', 8, 8],
    ['simt 128x256 bk16', 16, 16],
  ] as const) {
    const simt = matmulWgsl({
      aDtype: 'f32',
      bDtype: 'f32',
      outDtype: 'f32',
      aLoad: 'k4',
      bLoad: 'n4',
      tm: 8,
      tn,
      bk,
      outVec4: true,
      pad: 1,
      unroll: true,
      warpTile: true,
    });
    for (const [name, cut] of process.env.PROBE_SIMT === '1' ? ablations : [])
      staged.push({
        name: `${label} ablation: ${name}`,
        aT: false,
        bT: false,
        run: () =>
          rt.dispatch({
            pipelineKey: `probe|${label}|${name}`,
            makeCode: () => ablate(simt, cut),
            bindings: [{ buffer: buf(a32) }, { buffer: buf(w32) }, { buffer: buf(out), write: true }],
            uniforms: u,
            workgroups: [size / (16 * tn), size / 128, 1],
          }),
      });
  }
  for (const [name, cut] of process.env.PROBE_ABLATIONS === '1' ? ablations : [])
    staged.push({
      name: `ablation: ${name}`,
      aT: false,
      bT: false,
      run: () =>
        rt.dispatch({
          pipelineKey: `probe|ablation|${name}`,
          makeCode: () => ablate(shipped, cut),
          bindings: [{ buffer: buf(a) }, { buffer: buf(w) }, { buffer: buf(out), write: true }],
          uniforms: u,
          workgroups: [size / 128, size / 128, 1],
        }),
    });
  // Tilings: more subgroups with fewer result matrices each (fewer registers, more warps to hide
  // the global loads), and deeper K-tiles (fewer barriers per FLOP).
  const tilings: Partial<SgMatTiling>[] = [
    { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32 },
    { sgM: 2, sgN: 4, tilesM: 4, tilesN: 4, bk: 32 },
    { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32, doubleBuffer: true },
    { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 16, doubleBuffer: true },
  ];
  // The f32 register-tiled (SIMT) kernel at 4096³: the default tiling and others (PROBE_SIMT_SWEEP=1).
  const simtTunings: [string, MatmulTuning][] = [
    ['f32 SIMT 4096^3 default', { variant: 'registerTiled' }],
    ['f32 SIMT 4096^3 128x256 bk16', { variant: 'registerTiled', tm: 8, tn: 16, bk: 16 }],
  ];
  if (process.env.PROBE_SIMT_SWEEP === '1')
    simtTunings.push(
      ['f32 SIMT 4096^3 128x128 bk16', { variant: 'registerTiled', tm: 8, tn: 8, bk: 16 }],
      [
        'f32 SIMT 4096^3 128x128 bk8 db',
        { variant: 'registerTiled', tm: 8, tn: 8, bk: 8, doubleBuffer: true },
      ],
      [
        'f32 SIMT 4096^3 128x256 bk16 db',
        { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, doubleBuffer: true },
      ],
      ['f32 SIMT 4096^3 128x256 bk8', { variant: 'registerTiled', tm: 8, tn: 16, bk: 8 }],
      ['f32 SIMT 4096^3 256x128 bk16', { variant: 'registerTiled', tm: 16, tn: 8, bk: 16 }],
      ['f32 SIMT 4096^3 128x256 bk16 pad0', { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, pad: 0 }],
      [
        'f32 SIMT 4096^3 128x256 bk16 no warp tile',
        { variant: 'registerTiled', tm: 8, tn: 16, bk: 16, warpTile: false },
      ],
    );
  for (const [label, tuning] of simtTunings)
    staged.push({
      name: label,
      aT: false,
      bT: false,
      run: () => {
        b.tuning.matmul = tuning;
        b.matmul(view(a32, [1, size, size]), view(w32, [1, size, size]), out);
        b.tuning.matmul = {};
      },
    });
  if (process.env.PROBE_MATRIX_STAGING === '1')
    for (const [aT, bT] of [
      [false, false],
      [false, true],
      [true, false],
    ] as const) {
      const name = `matrix-staged bk32 4096^3 ${aT ? 'A^T (dW)' : bT ? 'B^T (x W^T)' : 'A B'}`;
      staged.push({
        name,
        aT,
        bT,
        run: () =>
          rt.dispatch({
            pipelineKey: `probe|${name}`,
            makeCode: () => stagedWgsl(s, { aT, bT, bk: 32 }),
            bindings: [{ buffer: buf(a) }, { buffer: buf(w) }, { buffer: buf(out), write: true }],
            uniforms: uniforms.pack({ M: size, N: size, K: size, iters: 0 }),
            workgroups: [size / 128, size / 128, 1],
          }),
      });
    }
  const only = process.env.PROBE_LAYOUTS ?? 'AB,BT,AT';
  for (const [aT, bT, key] of [
    [false, false, 'AB'],
    [false, true, 'BT'],
    [true, false, 'AT'],
  ] as const) {
    if (!only.split(',').includes(key)) continue;
    const tag = aT ? 'A^T (dW)' : bT ? 'B^T (x W^T)' : 'A B';
    const aStr = aT ? [0, 1, size] : [0, size, 1];
    const bStr = bT ? [0, 1, size] : [0, size, 1];
    for (const dtype of ['f16', 'f32'] as const)
      for (const t of tilings) {
        staged.push({
          name: `${dtype} ${tag} sg${t.sgM}x${t.sgN} t${t.tilesM}x${t.tilesN} bk${t.bk}${t.doubleBuffer ? ' db' : ''}`,
          aT,
          bT,
          run: () => {
            b.tuning.matmul = { variant: 'subgroupMatrix', reducedPrecision: true, sgmat: t };
            const [x, y] = dtype === 'f16' ? [a, w] : [a32, w32];
            b.matmul(view(x, [1, size, size], aStr), view(y, [1, size, size], bStr), out);
            b.tuning.matmul = {};
          },
        });
      }
  }
  // The A·B matmuls of the mixed e2e step (f32 tensors, reduced precision; forward via the
  // contiguous Wᵀ copy, and dX = dY·W), each tiling / split choice timed.
  const step: [string, number, number, number][] = [
    ['qkv fwd', 8192, 2304, 768],
    ['out fwd', 8192, 768, 768],
    ['up fwd', 8192, 4096, 768],
    ['down fwd', 8192, 768, 2048],
    ['qkv dX', 8192, 768, 2304],
    ['up dX', 8192, 768, 4096],
    ['down dX', 8192, 2048, 768],
    ['head dX', 8192, 768, 50304],
    // The packed DSC projection (q|k|v|z generators: 2352 wide), unpadded and padded.
    ...[2352, 2432, 2560].flatMap((w): [string, number, number, number][] => [
      [`dsc ${w} fwd`, 8192, w, 768],
      [`dsc ${w} dX`, 8192, 768, w],
    ]),
    // K from 2048 to 2560 in steps of 32 (session 4: K 2320-2432 ran 2.4x slower than 2304 and 2560).
    [`ksweep 544`, 8192, 768, 544],
    [`ksweep 1056`, 8192, 768, 1056],
    ...Array.from({ length: 17 }, (_, i): [string, number, number, number] => [
      `ksweep ${2048 + 32 * i}`,
      8192,
      768,
      2048 + 32 * i,
    ]),
  ];
  const choices: [string, Partial<SgMatTiling>][] = [
    ['auto', {}],
    ['128x128 split2', { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32, splits: 2 }],
    ['128x128 split4', { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32, splits: 4 }],
    ['128x64', { sgM: 2, sgN: 2, tilesM: 4, tilesN: 2, bk: 32, splits: 1 }],
    ['64x128', { sgM: 2, sgN: 2, tilesM: 2, tilesN: 4, bk: 32, splits: 1 }],
    ['64x64', { sgM: 2, sgN: 2, tilesM: 2, tilesN: 2, bk: 32, splits: 1 }],
  ];
  // PROBE_STEP=1: every shape; PROBE_STEP=<text>: the shapes whose label contains it (auto choice only).
  const stepOnly = process.env.PROBE_STEP;
  if (stepOnly)
    for (const [label, m, n, k] of step.filter(([l]) => stepOnly === '1' || l.includes(stepOnly))) {
      const x = b.alloc(m * k, 'f32');
      const y = b.alloc(k * n, 'f32');
      const z = b.alloc(m * n, 'f32');
      b.random(x, m * k, 'uniform', [-1, 1], 3);
      b.random(y, k * n, 'uniform', [-1, 1], 4);
      for (const [choice, sgmat] of stepOnly === '1'
        ? choices
        : [choices[0]!, ['tiles not padded', { padTiles: 1 }] as [string, Partial<SgMatTiling>]])
        staged.push({
          name: `step ${label} ${m}x${n}x${k} ${choice}`,
          aT: false,
          bT: false,
          flops: 2 * m * n * k,
          run: () => {
            b.tuning.matmul = { variant: 'subgroupMatrix', reducedPrecision: true, sgmat };
            b.matmul(view(x, [1, m, k]), view(y, [1, k, n]), z);
            b.tuning.matmul = {};
          },
        });
    }
  // K = 2080 (slow in the K sweep) with A's rows padded to a stride of 2304 / 2560, and with f16 inputs.
  if (process.env.PROBE_KSTRIDE === '1') {
    const m = 8192;
    const n = 768;
    const k = 2080;
    const y = b.alloc(2560 * n, 'f32');
    const z = b.alloc(m * n, 'f32');
    b.random(y, 2560 * n, 'uniform', [-1, 1], 4);
    for (const stride of [2080, 2304, 2560, 2112, 2176]) {
      const x = b.alloc(m * stride, 'f32');
      b.random(x, m * stride, 'uniform', [-1, 1], 3);
      staged.push({
        name: `kstride K ${k} A row stride ${stride}`,
        aT: false,
        bT: false,
        flops: 2 * m * n * k,
        run: () => {
          b.tuning.matmul = { variant: 'subgroupMatrix', reducedPrecision: true };
          b.matmul(view(x, [1, m, k], [0, stride, 1]), view(y, [1, k, n]), z);
          b.tuning.matmul = {};
        },
      });
    }
    const x32 = b.alloc(m * k, 'f32');
    b.random(x32, m * k, 'uniform', [-1, 1], 3);
    const x16 = b.alloc(m * k, 'f16');
    const y16 = b.alloc(k * n, 'f16');
    b.random(x16, m * k, 'uniform', [-1, 1], 3);
    b.random(y16, k * n, 'uniform', [-1, 1], 4);
    for (const kk of [2048, 2080]) {
      staged.push({
        name: `kstride f16 inputs K ${kk}`,
        aT: false,
        bT: false,
        flops: 2 * m * n * kk,
        run: () => {
          b.tuning.matmul = { variant: 'subgroupMatrix' };
          b.matmul(view(x16, [1, m, kk], [0, k, 1]), view(y16, [1, kk, n]), z);
          b.tuning.matmul = {};
        },
      });
      staged.push({
        name: `kstride SIMT f32 K ${kk}`,
        aT: false,
        bT: false,
        flops: 2 * m * n * kk,
        run: () => {
          b.tuning.matmul = { variant: 'registerTiled' };
          b.matmul(view(x32, [1, m, kk], [0, k, 1]), view(y, [1, kk, n]), z);
          b.tuning.matmul = {};
        },
      });
    }
  }
  const passes = new Map<string, number[]>();
  for (let pass = 0; pass < Number(process.env.PROBE_PASSES ?? 3); pass++)
    for (const { name, aT, bT, run, flops: own } of staged) {
      try {
        const f = own ?? flops;
        const m = await measure(b, run, 10);
        // Only the 4096³ products are checked (the ablations compute wrong results on purpose).
        const checked = pass === 1 && own === undefined && !name.includes('ablation: ');
        const err = checked ? ` err ${(await check(aT, bT)).toExponential(1)}` : '';
        passes.set(name, [...(passes.get(name) ?? []), f / (m.ms * 1e9)]);
        record(results, `${name}${err} [pass ${pass}]`, m, f / (m.ms * 1e6), 'GFLOP/s');
      } catch (e) {
        if (pass === 0) console.log(`${name}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  for (const [name, v] of passes)
    console.log(`${name.padEnd(44)} TFLOP/s by pass: ${v.map((x) => x.toFixed(1)).join(' ')}`);
  const dir = process.env.BENCH_OUT ?? 'bench-results';
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'sgmat-probe.json'),
    `${JSON.stringify({ device: opened.adapterInfo, results }, null, 2)}\n`,
  );
  b.destroy();
}

await main();
