import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16 } from '../wgsl.js';

/**
 * How a kernel reads one operand tile from global memory.
 * A is M x K, B is K x N. `k4`/`m4`/`n4`: vec4 loads along the named axis
 * (that axis has stride 1 and the other stride, the offset and the batch
 * stride are multiples of 4). `k1`/`m1`/`n1`: scalar loads with arbitrary
 * strides, consecutive threads walking the named axis (the smaller stride).
 */
export type ALoad = 'k4' | 'm4' | 'k1' | 'm1';
export type BLoad = 'n4' | 'k4' | 'n1' | 'k1';

/**
 * Register-tiled batched matmul. 256 threads as 16 x 16; each computes a
 * TM x TN block of C (TM, TN = 4, 8 or 16) split in 4 x 4 sub-blocks 64 apart, so
 * the workgroup tile is 16 TM x 16 TN (64, 128 or 256 each way). Per K-tile of BK, A and B
 * tiles are staged in shared memory k-major (As[k][m], Bs[k][n]) as vec4, the
 * next tile is prefetched into registers while the current one is consumed,
 * and the inner product is fully unrolled into vec4 FMAs (no arrays, so the
 * accumulators stay in registers).
 */
export interface MatmulParams {
  readonly aDtype: DType;
  readonly bDtype: DType;
  readonly outDtype: DType;
  readonly aLoad: ALoad;
  readonly bLoad: BLoad;
  readonly tm: 4 | 8 | 16;
  /**
   * Outputs per thread along N (default `tm`): 128 x 64 tiles fill the GPU
   * better on some shapes; 8 x 16 per thread reads less shared memory per FMA.
   */
  readonly tn?: 4 | 8 | 16;
  readonly bk: 8 | 16 | 32;
  /** C rows are stored as vec4 (N % 4 == 0). */
  readonly outVec4: boolean;
  /** Extra vec4s per shared-memory k-row: 1 spreads the transposing stores over more banks. */
  readonly pad: 0 | 1;
  /** Unroll the BK loop in the generated code (else a WGSL loop the driver may unroll itself). */
  readonly unroll: boolean;
  /** Threads of one warp cover an 8 x 4 patch of the 16 x 16 thread grid (fewer shared-memory wavefronts) instead of 16 x 2. */
  readonly warpTile: boolean;
  /**
   * Two shared-memory buffers per operand: the next K-tile is stored into one
   * while the other is consumed, so one barrier per K-tile instead of two.
   */
  readonly doubleBuffer?: boolean;
  /**
   * Split-K (batch 1 only): workgroup z = split index, covering K range
   * [z * kChunk, min(K, (z + 1) * kChunk)); C is a `[splits, M, N]` f32
   * partial buffer that `matmul-splitk.ts` sums into the output.
   */
  readonly splitK?: boolean;
}

export const matmulUniforms = new UniformStruct([
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'batchBase', type: 'u32' },
  { name: 'aOff', type: 'u32' },
  { name: 'aBatch', type: 'u32' },
  { name: 'aRow', type: 'u32' }, // stride along m
  { name: 'aCol', type: 'u32' }, // stride along k
  { name: 'bOff', type: 'u32' },
  { name: 'bBatch', type: 'u32' },
  { name: 'bRow', type: 'u32' }, // stride along k
  { name: 'bCol', type: 'u32' }, // stride along n
  { name: 'kChunk', type: 'u32' }, // K per split (split-K), else K
]);

/**
 * The matmul kernels' batch, K range and output base (`batch`, `kBegin`,
 * `kEnd`, `cBase`): split-K (batch 1) takes K range z·kChunk.. and writes its
 * f32 partial product at C + z·M·N (see `matmul-splitk.ts`); otherwise z is
 * the batch and K is whole.
 */
export const kRangeWgsl = (splitK: boolean): string =>
  splitK
    ? `// Split-K: z picks the K range; C is the [splits, M, N] partial buffer.
  let batch = 0u;
  let kBegin = wid.z * u.kChunk;
  let kEnd = min(u.K, kBegin + u.kChunk);
  let cBase = wid.z * u.M * u.N;`
    : `let batch = u.batchBase + wid.z;
  let kBegin = 0u;
  let kEnd = u.K;
  let cBase = batch * u.M * u.N;`;

export const matmulKey = (p: MatmulParams): string =>
  `matmul|${p.aDtype},${p.bDtype}>${p.outDtype}|a${p.aLoad}|b${p.bLoad}|tm${p.tm}|bk${p.bk}|${p.outVec4 ? 'o4' : 'o1'}|pad${p.pad}|${p.warpTile ? 'wt' : 'rt'}|${p.unroll ? 'u' : 'l'}${p.doubleBuffer ? '|db' : ''}${(p.tn ?? p.tm) !== p.tm ? `|tn${p.tn}` : ''}${p.splitK ? '|splitk' : ''}`;

/** Workgroup tile along M. */
export const matmulTile = (p: Pick<MatmulParams, 'tm'>): number => 16 * p.tm;
/** Workgroup tile along N. */
export const matmulTileN = (p: Pick<MatmulParams, 'tm' | 'tn'>): number => 16 * (p.tn ?? p.tm);

const comps = ['x', 'y', 'z', 'w'] as const;

/** WGSL for staging one operand tile: prefetch registers, their global loads, their shared-memory stores. */
export interface Staging {
  /** Declarations of the prefetch registers. */
  readonly regs: string[];
  /** Loads tile starting at `k0` into the registers (elements outside A / B read as zero). */
  readonly load: string[];
  /** The same loads without bounds checks, for tiles wholly inside the operand. */
  readonly loadUnchecked: string[];
  /** Writes the registers into shared memory. */
  readonly store: string[];
}

/**
 * Code to stage one operand. `outer` is the non-K axis (m for A, n for B),
 * `tile` its tile size; the shared layout is S[k][outer] as vec4 along outer.
 */
function staging(
  name: 'a' | 'b',
  mode: 'k4' | 'o4' | 'k1' | 'o1',
  dtype: DType,
  tile: number,
  bk: number,
  pad: number,
  /** Prefix of every shared-memory index (the buffer offset when double-buffered). */
  sbase = '',
): Staging {
  const S = name === 'a' ? 'As' : 'Bs';
  const src = name === 'a' ? 'A' : 'B';
  const base = `${name}Base`;
  const o0 = name === 'a' ? 'm0' : 'n0';
  const oLimit = name === 'a' ? 'u.M' : 'u.N';
  // strides: along outer and along k
  const so = name === 'a' ? 'u.aRow' : 'u.bCol';
  const sk = name === 'a' ? 'u.aCol' : 'u.bRow';
  const rowVec = tile / 4; // vec4 per k-row of a tile
  const stride = rowVec + pad; // vec4 per k-row of shared memory
  const regs: string[] = [];
  const load: string[] = [];
  const fast: string[] = [];
  const store: string[] = [];
  const total = tile * bk;
  const cvt = (e: string, vec: boolean): string =>
    dtype === 'f32' ? e : vec ? `vec4<f32>(${e})` : `f32(${e})`;
  if (mode === 'k4' || mode === 'o4') {
    const perThread = total / 4 / 256;
    for (let t = 0; t < perThread; t++) {
      const r = `${name}r${t}`;
      regs.push(`var ${r}: vec4<f32>;`);
      load.push('{');
      load.push(`  let v = lid + ${t * 256}u;`);
      if (mode === 'k4') {
        // outer index = v / (bk/4), k4 = (v % (bk/4)) * 4; global contiguous along k
        load.push(`  let o = v / ${bk / 4}u; let kq = (v % ${bk / 4}u) * 4u;`);
        load.push(`  let go = ${o0} + o; let gk = k0 + kq;`);
        fast.push(
          `{ let v = lid + ${t * 256}u; let o = v / ${bk / 4}u; let kq = (v % ${bk / 4}u) * 4u;`,
          `  ${r} = ${cvt(`${src}[(${base} + (${o0} + o) * ${so} + k0 + kq) / 4u]`, true)}; }`,
        );
        load.push(`  var val = vec4<f32>(0.0);`);
        load.push(
          `  if (go < ${oLimit} && gk < kEnd) { val = ${cvt(`${src}[(${base} + go * ${so} + gk) / 4u]`, true)}; }`,
        );
        load.push(`  ${r} = select(vec4<f32>(0.0), val, gk + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(kEnd));`);
        store.push('{');
        store.push(`  let v = lid + ${t * 256}u;`);
        store.push(`  let o = v / ${bk / 4}u; let kq = (v % ${bk / 4}u) * 4u;`);
        for (let j = 0; j < 4; j++)
          store.push(`  ${S}[${sbase}(kq + ${j}u) * ${stride}u + o / 4u][o % 4u] = ${r}.${comps[j]};`);
        store.push('}');
      } else {
        // k = v / (tile/4), o4 = (v % (tile/4)) * 4; global contiguous along outer
        load.push(`  let kk = v / ${rowVec}u; let oq = (v % ${rowVec}u) * 4u;`);
        load.push(`  let go = ${o0} + oq; let gk = k0 + kk;`);
        fast.push(
          `{ let v = lid + ${t * 256}u; let kk = v / ${rowVec}u; let oq = (v % ${rowVec}u) * 4u;`,
          `  ${r} = ${cvt(`${src}[(${base} + (k0 + kk) * ${sk} + ${o0} + oq) / 4u]`, true)}; }`,
        );
        load.push(`  var val = vec4<f32>(0.0);`);
        load.push(
          `  if (go < ${oLimit} && gk < kEnd) { val = ${cvt(`${src}[(${base} + gk * ${sk} + go) / 4u]`, true)}; }`,
        );
        load.push(
          `  ${r} = select(vec4<f32>(0.0), val, go + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(${oLimit}));`,
        );
        store.push(
          pad === 0
            ? `${S}[${sbase}lid + ${t * 256}u] = ${r};`
            : `{ let v = lid + ${t * 256}u; ${S}[${sbase}(v / ${rowVec}u) * ${stride}u + v % ${rowVec}u] = ${r}; }`,
        );
      }
      load.push('}');
    }
  } else {
    const perThread = total / 256;
    for (let t = 0; t < perThread; t++) {
      const r = `${name}r${t}`;
      regs.push(`var ${r}: f32;`);
      const idx =
        mode === 'k1'
          ? [`let e = lid + ${t * 256}u;`, `let kk = e % ${bk}u; let o = e / ${bk}u;`]
          : [`let e = lid + ${t * 256}u;`, `let kk = e / ${tile}u; let o = e % ${tile}u;`];
      load.push('{');
      load.push(...idx.map((l) => `  ${l}`));
      load.push(`  let go = ${o0} + o; let gk = k0 + kk;`);
      fast.push(
        `{ ${idx.join(' ')}`,
        `  ${r} = ${cvt(`${src}[${base} + (${o0} + o) * ${so} + (k0 + kk) * ${sk}]`, false)}; }`,
      );
      load.push(`  ${r} = 0.0;`);
      load.push(
        `  if (go < ${oLimit} && gk < kEnd) { ${r} = ${cvt(`${src}[${base} + go * ${so} + gk * ${sk}]`, false)}; }`,
      );
      load.push('}');
      store.push('{');
      store.push(...idx.map((l) => `  ${l}`));
      store.push(`  ${S}[${sbase}kk * ${stride}u + o / 4u][o % 4u] = ${r};`);
      store.push('}');
    }
  }
  return { regs, load, loadUnchecked: fast, store };
}

/**
 * Both operands' loads of the K-tile at `k0`: unchecked when the tile lies
 * wholly inside A and B (every tile but the edges; one uniform branch),
 * checked otherwise. H100, subgroup-matrix kernel at 4096³: 158 -> 197 TFLOP/s.
 */
export const tileLoadsWgsl = (a: Staging, b: Staging, bk: number, tileM: number, tileN: number): string =>
  `if (k0 + ${bk}u <= kEnd && m0 + ${tileM}u <= u.M && n0 + ${tileN}u <= u.N) {
      ${[...a.loadUnchecked, ...b.loadUnchecked].join('\n      ')}
    } else {
      ${[...a.load, ...b.load].join('\n      ')}
    }`;

export function matmulWgsl(p: MatmulParams): string {
  const { tm, bk } = p;
  const tileM = matmulTile(p);
  const tileN = matmulTileN(p);
  const blocksM = tm / 4; // 4x4 sub-blocks per thread along M
  const blocksN = (p.tn ?? tm) / 4; // and along N
  const strideA = tileM / 4 + p.pad;
  const strideB = tileN / 4 + p.pad;
  const aMode = p.aLoad === 'k4' ? 'k4' : p.aLoad === 'm4' ? 'o4' : p.aLoad === 'k1' ? 'k1' : 'o1';
  const bMode = p.bLoad === 'k4' ? 'k4' : p.bLoad === 'n4' ? 'o4' : p.bLoad === 'k1' ? 'k1' : 'o1';
  const db = p.doubleBuffer === true;
  const sa = staging('a', aMode, p.aDtype, tileM, bk, p.pad, db ? 'sbufA + ' : '');
  const sb = staging('b', bMode, p.bDtype, tileN, bk, p.pad, db ? 'sbufB + ' : '');
  const aVec = p.aLoad === 'k4' || p.aLoad === 'm4';
  const bVec = p.bLoad === 'k4' || p.bLoad === 'n4';
  const loads = tileLoadsWgsl(sa, sb, bk, tileM, tileN);

  const accDecl: string[] = [];
  for (let q = 0; q < blocksM; q++)
    for (let i = 0; i < 4; i++)
      for (let r = 0; r < blocksN; r++) accDecl.push(`var c${q}_${i}_${r} = vec4<f32>(0.0);`);

  // kk: the K index within the tile (a WGSL expression); rows of As / Bs are strideA / strideB vec4 apart.
  const step = (kA: string, kB: string, tag: string): string[] => {
    const lines: string[] = [];
    const ca = db ? 'cbufA + ' : '';
    const cb = db ? 'cbufB + ' : '';
    for (let q = 0; q < blocksM; q++) lines.push(`let a${tag}_${q} = As[${ca}${kA} + ${q * 16}u + ty];`);
    for (let r = 0; r < blocksN; r++) lines.push(`let b${tag}_${r} = Bs[${cb}${kB} + ${r * 16}u + tx];`);
    for (let q = 0; q < blocksM; q++)
      for (let i = 0; i < 4; i++)
        for (let r = 0; r < blocksN; r++)
          lines.push(
            `c${q}_${i}_${r} = fma(vec4<f32>(a${tag}_${q}.${comps[i]}), b${tag}_${r}, c${q}_${i}_${r});`,
          );
    return lines;
  };
  const inner: string[] = [];
  if (p.unroll)
    for (let kk = 0; kk < bk; kk++) inner.push(...step(`${kk * strideA}u`, `${kk * strideB}u`, `${kk}`));
  else {
    inner.push(`for (var kk = 0u; kk < ${bk}u; kk++) {`);
    inner.push(...step(`kk * ${strideA}u`, `kk * ${strideB}u`, 'k').map((l) => `  ${l}`));
    inner.push('}');
  }

  const write: string[] = [];
  const cvtOut = (e: string): string => (p.outDtype === 'f32' ? e : `vec4<${p.outDtype}>(${e})`);
  for (let q = 0; q < blocksM; q++)
    for (let i = 0; i < 4; i++) {
      write.push('{');
      write.push(`  let row = m0 + ${q * 64 + i}u + ty * 4u;`);
      write.push('  if (row < u.M) {');
      for (let r = 0; r < blocksN; r++) {
        const acc = `c${q}_${i}_${r}`;
        write.push(`    { let col = n0 + ${r * 64}u + tx * 4u;`);
        if (p.outVec4)
          write.push(`      if (col < u.N) { C[(cBase + row * u.N + col) / 4u] = ${cvtOut(acc)}; } }`);
        else {
          write.push(`      let v = ${cvtOut(acc)};`);
          for (let j = 0; j < 4; j++)
            write.push(
              `      if (col + ${j}u < u.N) { C[cBase + row * u.N + col + ${j}u] = v.${comps[j]}; }`,
            );
          write.push('    }');
        }
      }
      write.push('  }');
      write.push('}');
    }

  return `${enableF16(p.aDtype, p.bDtype, p.outDtype)}
${matmulUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> A: array<${aVec ? `vec4<${p.aDtype}>` : p.aDtype}>;
@group(0) @binding(2) var<storage, read> B: array<${bVec ? `vec4<${p.bDtype}>` : p.bDtype}>;
@group(0) @binding(3) var<storage, read_write> C: array<${p.outVec4 ? `vec4<${p.outDtype}>` : p.outDtype}>;
var<workgroup> As: array<vec4<f32>, ${(db ? 2 : 1) * bk * strideA}>;
var<workgroup> Bs: array<vec4<f32>, ${(db ? 2 : 1) * bk * strideB}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${
    p.warpTile
      ? 'let tx = (lid % 8u) + 8u * ((lid / 32u) % 2u); let ty = ((lid / 8u) % 4u) + 4u * (lid / 64u);'
      : 'let tx = lid % 16u; let ty = lid / 16u;'
  }
  ${kRangeWgsl(p.splitK ?? false)}
  let m0 = wid.y * ${tileM}u;
  let n0 = wid.x * ${tileN}u;
  let aBase = u.aOff + batch * u.aBatch;
  let bBase = u.bOff + batch * u.bBatch;
  ${sa.regs.join('\n  ')}
  ${sb.regs.join('\n  ')}
  ${accDecl.join('\n  ')}
  let tiles = (kEnd - kBegin + ${bk - 1}u) / ${bk}u;
  {
    let k0 = kBegin;
    ${loads}
  }
  ${db ? 'let sbufA = 0u; let sbufB = 0u;' : ''}
  ${sa.store.join('\n  ')}
  ${sb.store.join('\n  ')}
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let k0 = kBegin + (t + 1u) * ${bk}u;
    ${db ? `let cbufA = (t % 2u) * ${bk * strideA}u; let sbufA = ${bk * strideA}u - cbufA; let cbufB = (t % 2u) * ${bk * strideB}u; let sbufB = ${bk * strideB}u - cbufB;` : ''}
    if (t + 1u < tiles) {
      ${loads}
    }
    ${inner.join('\n    ')}
    ${db ? '' : 'workgroupBarrier();'}
    if (t + 1u < tiles) {
      ${sa.store.join('\n      ')}
      ${sb.store.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${write.join('\n  ')}
}`;
}
