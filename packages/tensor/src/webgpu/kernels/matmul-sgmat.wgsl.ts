import type { ALoad, BLoad, Staging } from './matmul.wgsl.js';
import { kRangeWgsl, matmulUniforms, tileLoadsWgsl } from './matmul.wgsl.js';

/**
 * How this Dawn spells the subgroup-matrix builtins. `template`: majorness in
 * the template list, `subgroupMatrixLoad<T, row_major>(p, offset, stride)` and
 * `subgroupMatrixStore<row_major>(p, offset, value, stride)` (current Dawn and
 * Tint). `legacy`: majorness as a bool argument, `subgroupMatrixLoad<T>(p,
 * offset, col_major, stride)` (first Chrome releases; reported deprecated by
 * the Dawn we pin). `diagnostic`: the namespace of the uniformity rule that the
 * kernel turns off (`chromium.` in shipping shaders, `chromium_experimental.` in
 * Dawn's design doc). `matmul-caps.ts` probes which one compiles.
 */
export interface SgMatSyntax {
  readonly builtins: 'template' | 'legacy';
  readonly diagnostic: 'chromium' | 'chromium_experimental';
}

/** One subgroup-matrix configuration: left M x K, right K x N, result M x N. */
export interface SgMatShape {
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/**
 * Tensor-core matmul through `chromium_experimental_subgroup_matrix`. Each
 * 32-lane subgroup owns a (tilesM x shape.m) x (tilesN x shape.n) block of C
 * as tilesM x tilesN f32 result matrices; sgM x sgN subgroups make the
 * workgroup tile. Per K-tile of `bk`, A and B are staged through registers
 * into f16 shared memory in the layout their global contiguity gives (no
 * transposes: a k-contiguous operand is stored outer-major and loaded
 * row-/column-major accordingly), converted to f16 on the way when the input
 * is f32 (reduced-precision mode). Full tiles with f32 output are stored
 * straight to C; edge tiles and f16 output go through a per-subgroup f32
 * scratch tile with bounds checks.
 */
export interface SgMatmulParams {
  readonly aDtype: 'f16' | 'f32';
  readonly bDtype: 'f16' | 'f32';
  readonly outDtype: 'f16' | 'f32';
  readonly aLoad: ALoad;
  readonly bLoad: BLoad;
  readonly shape: SgMatShape;
  /** Subgroups along M and N. */
  readonly sgM: number;
  readonly sgN: number;
  /** Result matrices per subgroup along M and N. */
  readonly tilesM: number;
  readonly tilesN: number;
  /** K-tile (a multiple of shape.k). */
  readonly bk: number;
  /** N % 4 == 0: full f32 tiles are stored directly with 16-byte aligned rows. */
  readonly directStore: boolean;
  /** Two shared buffers per operand (one barrier per K-tile). */
  readonly doubleBuffer: boolean;
  /**
   * Shared-memory layout of A: `mk` (row-major left loads), `km` (column-major),
   * or `natural` (the one its global contiguity gives without a transpose).
   * Default natural. Staging that transposes walks lanes along the shared row.
   */
  readonly aLayout?: 'natural' | 'mk' | 'km';
  /**
   * Layout of B: `kn` (row-major right loads), `nk` (column-major) or natural.
   * Default `kn`: on the H100 column-major right loads ran 2-6x slower (perf-notes.md).
   */
  readonly bLayout?: 'natural' | 'kn' | 'nk';
  readonly syntax: SgMatSyntax;
  /**
   * Test aid: scalar stand-ins for the subgroup-matrix builtins (each lane
   * computes its share of every result matrix from shared memory with the
   * same offsets, strides and majorness) and f32 staging, so the kernel's
   * indexing runs on adapters without subgroup matrices or f16 (llvmpipe).
   */
  readonly emulate?: boolean;
  /**
   * Experiment: load the matrices straight from global memory (no shared
   * staging, no barriers), like ONNX Runtime's kernel. f16 inputs only, and
   * only for full tiles with 16-byte aligned rows (the launcher checks).
   */
  readonly direct?: boolean;
  /**
   * Split-K (batch 1): workgroup z takes K range [z·kChunk, (z+1)·kChunk) and
   * writes its f32 partial product at C + z·M·N (`outDtype` must be f32; a
   * second pass sums the partials, see `launchSgmat`).
   */
  readonly splitK?: boolean;
  /**
   * Elements per global load of a vec-capable operand (k4/m4/n4): 4, or 8
   * (f16 as one 16-byte load, which needs 8-aligned offsets and strides; f32
   * as two vec4) so that each lane stores 8 consecutive halves. Default 4.
   */
  readonly vec?: 4 | 8;
  /**
   * From this many K-tiles on, the tile count is rounded up to a multiple of
   * it (the extra tiles load zeros through the bounds-checked path). Default
   * 8: on the H100 (NVIDIA 580 driver) the whole K loop ran 2.3-4.4x slower
   * whenever its trip count was not a multiple of 8 (8192 x 768 outputs: K
   * 2080 52 -> 120 TFLOP/s, K 544 18 -> 77, multiples of 256 unchanged).
   * 1 turns it off.
   */
  readonly padTiles?: number;
}

/** Extra f16 elements per shared row: keeps rows 16-byte aligned and spreads them over banks. */
const PAD = 8;
const SUBGROUP = 32;

export const sgmatTileM = (p: Pick<SgMatmulParams, 'sgM' | 'tilesM' | 'shape'>): number =>
  p.sgM * p.tilesM * p.shape.m;
export const sgmatTileN = (p: Pick<SgMatmulParams, 'sgN' | 'tilesN' | 'shape'>): number =>
  p.sgN * p.tilesN * p.shape.n;
export const sgmatThreads = (p: Pick<SgMatmulParams, 'sgM' | 'sgN'>): number => SUBGROUP * p.sgM * p.sgN;

const kMajor = (mode: ALoad | BLoad): boolean =>
  mode === 'm4' || mode === 'm1' || mode === 'n4' || mode === 'n1';

/** Whether A is staged `[k][m]` (column-major left loads). */
export const aKMajorOf = (p: Pick<SgMatmulParams, 'aLoad' | 'aLayout'>): boolean =>
  p.aLayout === 'km' || ((p.aLayout ?? 'natural') === 'natural' && kMajor(p.aLoad));
/** Whether B is staged `[k][n]` (row-major right loads). */
export const bKMajorOf = (p: Pick<SgMatmulParams, 'bLoad' | 'bLayout'>): boolean =>
  (p.bLayout ?? 'kn') === 'kn' || (p.bLayout === 'natural' && kMajor(p.bLoad));

/** Shared-memory layout: leading dimension and element count of each operand's buffer. */
export function sgmatShared(p: SgMatmulParams): {
  lda: number;
  ldb: number;
  aSize: number;
  bSize: number;
  bytes: number;
} {
  const tm = sgmatTileM(p);
  const tn = sgmatTileN(p);
  // k-contiguous operands are stored outer-major ([m][k] / [n][k]), the others k-major ([k][m] / [k][n]).
  const aKm = aKMajorOf(p);
  const bKn = bKMajorOf(p);
  const lda = aKm ? tm + PAD : p.bk + PAD;
  const ldb = bKn ? tn + PAD : p.bk + PAD;
  const aSize = aKm ? p.bk * lda : tm * lda;
  const bSize = bKn ? p.bk * ldb : tn * ldb;
  const buffers = p.direct ? 0 : p.doubleBuffer ? 2 : 1;
  const scratch = p.sgM * p.sgN * p.shape.m * p.shape.n * 4;
  return { lda, ldb, aSize, bSize, bytes: buffers * (aSize + bSize) * (p.emulate ? 4 : 2) + scratch };
}

/** Why the parameters cannot make a kernel, or null. */
export function sgmatInvalid(p: SgMatmulParams): string | null {
  const threads = sgmatThreads(p);
  if (p.bk % p.shape.k !== 0) return `bk ${p.bk} is not a multiple of ${p.shape.k}`;
  if (!Number.isInteger(padOf(p)) || padOf(p) < 1) return `padTiles ${p.padTiles} is not a positive integer`;
  if (p.splitK && (p.outDtype !== 'f32' || p.direct))
    return 'split-K writes f32 partials through staged loads';
  if (p.direct)
    return p.aDtype === p.bDtype && (p.aDtype === 'f16' || p.emulate) ? null : 'direct loads need f16 inputs';
  for (const [mode, outer] of [
    [p.aLoad, sgmatTileM(p)],
    [p.bLoad, sgmatTileN(p)],
  ] as const) {
    const vec = mode.endsWith('4') ? vecOf(p) : 1;
    if ((outer * p.bk) % (vec * threads) !== 0)
      return `a ${outer} x ${p.bk} tile does not split over ${threads} threads in ${vec}-wide loads`;
  }
  return null;
}

const vecOf = (p: Pick<SgMatmulParams, 'vec'>): 4 | 8 => p.vec ?? 4;
const padOf = (p: Pick<SgMatmulParams, 'padTiles'>): number => p.padTiles ?? 8;

export const sgmatKey = (p: SgMatmulParams): string =>
  `matmul.sgmat|${p.aDtype},${p.bDtype}>${p.outDtype}|a${p.aLoad}|b${p.bLoad}|${p.shape.m}x${p.shape.n}x${p.shape.k}` +
  `|sg${p.sgM}x${p.sgN}|t${p.tilesM}x${p.tilesN}|bk${p.bk}|${p.directStore ? 'ds' : 'ss'}${p.doubleBuffer ? '|db' : ''}` +
  `|${aKMajorOf(p) ? 'km' : 'mk'},${bKMajorOf(p) ? 'kn' : 'nk'}` +
  `${p.direct ? '|direct' : ''}${vecOf(p) === 8 ? '|v8' : ''}${padOf(p) > 1 ? `|pad${padOf(p)}` : ''}${p.splitK ? '|splitk' : ''}|${p.emulate ? 'emulated' : `${p.syntax.builtins},${p.syntax.diagnostic}`}`;

const load = (
  syntax: SgMatSyntax,
  type: string,
  ptr: string,
  offset: string,
  colMajor: boolean,
  stride: string,
): string =>
  syntax.builtins === 'template'
    ? `subgroupMatrixLoad<${type}, ${colMajor ? 'col_major' : 'row_major'}>(${ptr}, ${offset}, ${stride})`
    : `subgroupMatrixLoad<${type}>(${ptr}, ${offset}, ${colMajor}, ${stride})`;

const store = (syntax: SgMatSyntax, ptr: string, offset: string, value: string, stride: string): string =>
  syntax.builtins === 'template'
    ? `subgroupMatrixStore<row_major>(${ptr}, ${offset}, ${value}, ${stride})`
    : `subgroupMatrixStore(${ptr}, ${offset}, ${value}, false, ${stride})`;

/**
 * Global -> registers -> shared staging of one operand. `mode` k4/k1: global
 * contiguous (or smaller stride) along K; o4/o1: along the outer axis.
 * `kMajorShared`: shared `[k][outer]`, else `[outer][k]`. Lanes walk the
 * global contiguous axis when the layouts agree (coalesced loads, contiguous
 * stores), and the shared row when staging transposes (conflict-free stores;
 * the strided loads hit L2 for weights). Out-of-range elements are zero.
 */
function staging(
  name: 'a' | 'b',
  mode: 'k4' | 'o4' | 'k1' | 'o1',
  dtype: 'f16' | 'f32',
  outer: number,
  bk: number,
  ld: number,
  threads: number,
  base: string,
  /** Staging element type: f16, or f32 when emulating. */
  el: 'f16' | 'f32',
  kMajorShared: boolean,
  /** Elements per vector load (vec modes). */
  w: 4 | 8,
): Staging {
  const S = name === 'a' ? 'As' : 'Bs';
  const src = name === 'a' ? 'A' : 'B';
  const gBase = `${name}Base`;
  const o0 = name === 'a' ? 'm0' : 'n0';
  const oLimit = name === 'a' ? 'u.M' : 'u.N';
  const so = name === 'a' ? 'u.aRow' : 'u.bCol';
  const sk = name === 'a' ? 'u.aCol' : 'u.bRow';
  const regs: string[] = [];
  const loadL: string[] = [];
  const fastL: string[] = [];
  const storeL: string[] = [];
  const cvt = (e: string, vec: number): string =>
    dtype === el ? e : vec > 1 ? `vec${vec}<${el}>(${e})` : `${el}(${e})`;
  if (mode === 'k4' || mode === 'o4') {
    const per = (outer * bk) / w / threads;
    // w 8: two vec4 registers per load; f16 comes as one 16-byte vec4<u32> (8 halves).
    const halves = w === 8 ? ['lo', 'hi'] : [''];
    const vt = `vec4<${el}>`;
    for (let t = 0; t < per; t++) {
      const r = `${name}r${t}`;
      for (const h of halves) regs.push(`var ${r}${h}: ${vt};`);
      const v = `let v = lid + ${t * threads}u;`;
      const idx =
        mode === 'k4'
          ? kMajorShared
            ? `${v} let o = v % ${outer}u; let kk = (v / ${outer}u) * ${w}u;`
            : `${v} let o = v / ${bk / w}u; let kk = (v % ${bk / w}u) * ${w}u;`
          : kMajorShared
            ? `${v} let kk = v / ${outer / w}u; let o = (v % ${outer / w}u) * ${w}u;`
            : `${v} let kk = v % ${bk}u; let o = (v / ${bk}u) * ${w}u;`;
      const flat = mode === 'k4' ? `${gBase} + go * ${so} + gk` : `${gBase} + gk * ${sk} + go`;
      const lanes = (first: number): string =>
        `${mode === 'k4' ? 'gk' : 'go'} + vec4<u32>(${first}u, ${first + 1}u, ${first + 2}u, ${first + 3}u) < vec4<u32>(${mode === 'k4' ? 'kEnd' : oLimit})`;
      loadL.push(`{ ${idx}`);
      loadL.push(`  let go = ${o0} + o; let gk = k0 + kk;`);
      fastL.push(`{ ${idx}`);
      fastL.push(`  let go = ${o0} + o; let gk = k0 + kk;`);
      if (w === 4) {
        fastL.push(`  ${r} = ${cvt(`${src}[(${flat}) / 4u]`, 4)}; }`);
        loadL.push(`  var val = ${vt}(0.0);`);
        loadL.push(`  if (go < ${oLimit} && gk < kEnd) { val = ${cvt(`${src}[(${flat}) / 4u]`, 4)}; }`);
        loadL.push(`  ${r} = select(${vt}(0.0), val, ${lanes(0)}); }`);
      } else {
        loadL.push(`  var lo = ${vt}(0.0); var hi = ${vt}(0.0);`);
        loadL.push(`  if (go < ${oLimit} && gk < kEnd) {`);
        if (dtype === 'f16') {
          const h2 = (c: string) => `bitcast<vec2<f16>>(raw.${c})`;
          loadL.push(`    let raw = ${src}[(${flat}) / 8u];`);
          loadL.push(
            `    lo = ${cvt(`vec4<f16>(${h2('x')}, ${h2('y')})`, 4)}; hi = ${cvt(`vec4<f16>(${h2('z')}, ${h2('w')})`, 4)};`,
          );
          fastL.push(`  let raw = ${src}[(${flat}) / 8u];`);
          fastL.push(
            `  ${r}lo = ${cvt(`vec4<f16>(${h2('x')}, ${h2('y')})`, 4)}; ${r}hi = ${cvt(`vec4<f16>(${h2('z')}, ${h2('w')})`, 4)}; }`,
          );
        } else {
          loadL.push(`    let q = (${flat}) / 4u;`);
          loadL.push(`    lo = ${cvt(`${src}[q]`, 4)}; hi = ${cvt(`${src}[q + 1u]`, 4)};`);
          fastL.push(`  let q = (${flat}) / 4u;`);
          fastL.push(`  ${r}lo = ${cvt(`${src}[q]`, 4)}; ${r}hi = ${cvt(`${src}[q + 1u]`, 4)}; }`);
        }
        loadL.push('  }');
        loadL.push(
          `  ${r}lo = select(${vt}(0.0), lo, ${lanes(0)}); ${r}hi = select(${vt}(0.0), hi, ${lanes(4)}); }`,
        );
      }
      // The elements are consecutive along the global contiguous axis: one step in shared is 1 or ld.
      const at = kMajorShared ? `kk * ${ld}u + o` : `o * ${ld}u + kk`;
      const step = (mode === 'k4') === kMajorShared ? `${ld}u` : '1u';
      const comps = halves.flatMap((h) => ['x', 'y', 'z', 'w'].map((c) => `${r}${h}.${c}`));
      storeL.push(`{ ${idx} let s = ${base}${at};`);
      storeL.push(
        `  ${comps.map((c, j) => `${S}[s${j === 0 ? '' : ` + ${j === 1 ? '' : `${j}u * `}${step}`}] = ${c};`).join(' ')} }`,
      );
    }
  } else {
    const per = (outer * bk) / threads;
    for (let t = 0; t < per; t++) {
      const r = `${name}r${t}`;
      regs.push(`var ${r}: ${el};`);
      // Scalar loads are strided anyway: lanes walk the shared row (conflict-free stores).
      const idx = kMajorShared
        ? `let e = lid + ${t * threads}u; let kk = e / ${outer}u; let o = e % ${outer}u;`
        : `let e = lid + ${t * threads}u; let kk = e % ${bk}u; let o = e / ${bk}u;`;
      loadL.push(`{ ${idx}`);
      loadL.push(`  let go = ${o0} + o; let gk = k0 + kk;`);
      fastL.push(`{ ${idx}`);
      fastL.push(`  ${r} = ${cvt(`${src}[${gBase} + (${o0} + o) * ${so} + (k0 + kk) * ${sk}]`, 1)}; }`);
      loadL.push(`  ${r} = ${el}(0.0);`);
      loadL.push(
        `  if (go < ${oLimit} && gk < kEnd) { ${r} = ${cvt(`${src}[${gBase} + go * ${so} + gk * ${sk}]`, 1)}; } }`,
      );
      const at = kMajorShared ? `kk * ${ld}u + o` : `o * ${ld}u + kk`;
      storeL.push(`{ ${idx} ${S}[${base}${at}] = ${r}; }`);
    }
  }
  return { regs, load: loadL, loadUnchecked: fastL, store: storeL };
}

/** Storage element of a vector-loaded operand: 8 halves travel as one vec4<u32>. */
const vecElem = (dtype: 'f16' | 'f32', w: 4 | 8): string =>
  w === 8 && dtype === 'f16' ? 'vec4<u32>' : `vec4<${dtype}>`;

export function sgmatWgsl(p: SgMatmulParams): string {
  const invalid = sgmatInvalid(p);
  if (invalid) throw new RangeError(`sgmat matmul: ${invalid}`);
  const { shape, bk, tilesM, tilesN, syntax } = p;
  const threads = sgmatThreads(p);
  const tm = sgmatTileM(p);
  const tn = sgmatTileN(p);
  const { lda, ldb, aSize, bSize } = sgmatShared(p);
  const db = p.doubleBuffer;
  const aMode = p.aLoad === 'k4' ? 'k4' : p.aLoad === 'm4' ? 'o4' : p.aLoad === 'k1' ? 'k1' : 'o1';
  const bMode = p.bLoad === 'k4' ? 'k4' : p.bLoad === 'n4' ? 'o4' : p.bLoad === 'k1' ? 'k1' : 'o1';
  const em = p.emulate === true;
  const el = em ? 'f32' : 'f16';
  // Direct loads read A and B where they are: the layout is their own.
  const aKMajor = p.direct ? kMajor(p.aLoad) : aKMajorOf(p);
  const bKMajor = p.direct ? kMajor(p.bLoad) : bKMajorOf(p);
  const w = vecOf(p);
  const sa = staging('a', aMode, p.aDtype, tm, bk, lda, threads, db ? 'sa + ' : '', el, aKMajor, w);
  const sb = staging('b', bMode, p.bDtype, tn, bk, ldb, threads, db ? 'sb + ' : '', el, bKMajor, w);
  const L = `subgroup_matrix_left<f16, ${shape.k}, ${shape.m}>`;
  const R = `subgroup_matrix_right<f16, ${shape.n}, ${shape.k}>`;
  const RES = `subgroup_matrix_result<f32, ${shape.n}, ${shape.m}>`;
  const dl = p.direct === true;
  const aVec = !dl && (aMode === 'k4' || aMode === 'o4');
  const bVec = !dl && (bMode === 'k4' || bMode === 'o4');

  const acc: string[] = [];
  const cell = shape.m * shape.n;
  const per = cell / SUBGROUP; // result elements per lane in the emulation
  for (let i = 0; i < tilesM; i++)
    for (let j = 0; j < tilesN; j++)
      acc.push(em ? `var c${i}_${j} = array<f32, ${per}>();` : `var c${i}_${j} = ${RES}();`);
  // Emulation: element (row, col) of a matrix at `off` with leading dimension `ld`.
  const at = (off: string, row: string, col: string, colMajor: boolean, ld: string): string =>
    colMajor ? `${off} + ${col} * ${ld} + ${row}` : `${off} + ${row} * ${ld} + ${col}`;
  const laneElems = (body: string): string =>
    `for (var r = 0u; r < ${per}u; r++) { let e = lane + r * ${SUBGROUP}u; let row = e / ${shape.n}u; let col = e % ${shape.n}u; ${body} }`;

  const inner: string[] = [];
  const ca = db ? 'ca + ' : '';
  const cb = db ? 'cb + ' : '';
  for (let kk = 0; kk < bk; kk += shape.k) {
    inner.push('{');
    // Staged: offsets into As/Bs. Direct: into A/B, with the operands' own strides.
    const [srcA, srcB, ldA, ldB] = dl
      ? ['A', 'B', aKMajor ? 'u.aCol' : 'u.aRow', bKMajor ? 'u.bRow' : 'u.bCol']
      : ['As', 'Bs', `${lda}u`, `${ldb}u`];
    for (let i = 0; i < tilesM; i++) {
      const row = dl ? `m0 + am0 + ${i * shape.m}u` : `am0 + ${i * shape.m}u`;
      const k = dl ? `(k0 + ${kk}u)` : `${kk}u`;
      const off = dl
        ? aKMajor
          ? `aBase + ${k} * ${ldA} + ${row}`
          : `aBase + (${row}) * ${ldA} + ${k}`
        : aKMajor
          ? `${ca}${kk * lda}u + ${row}`
          : `${ca}(${row}) * ${lda}u + ${kk}u`;
      inner.push(
        em ? `let a${i} = ${off};` : `var a${i} = ${load(syntax, L, `&${srcA}`, off, aKMajor, ldA)};`,
      );
    }
    for (let j = 0; j < tilesN; j++) {
      const col = dl ? `n0 + bn0 + ${j * shape.n}u` : `bn0 + ${j * shape.n}u`;
      const k = dl ? `(k0 + ${kk}u)` : `${kk}u`;
      const off = dl
        ? bKMajor
          ? `bBase + ${k} * ${ldB} + ${col}`
          : `bBase + (${col}) * ${ldB} + ${k}`
        : bKMajor
          ? `${cb}${kk * ldb}u + ${col}`
          : `${cb}(${col}) * ${ldb}u + ${kk}u`;
      inner.push(
        em ? `let b${j} = ${off};` : `var b${j} = ${load(syntax, R, `&${srcB}`, off, !bKMajor, ldB)};`,
      );
    }
    for (let i = 0; i < tilesM; i++)
      for (let j = 0; j < tilesN; j++)
        inner.push(
          em
            ? laneElems(
                `var s = c${i}_${j}[r]; for (var q = 0u; q < ${shape.k}u; q++) { s += f32(${srcA}[${at(`a${i}`, 'row', 'q', aKMajor, ldA)}]) * f32(${srcB}[${at(`b${j}`, 'q', 'col', !bKMajor, ldB)}]); } c${i}_${j}[r] = s;`,
              )
            : `c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`,
        );
    inner.push('}');
  }

  // Epilogue: direct cooperative stores for full f32 tiles, else through the scratch tile.
  const direct: string[] = [];
  const scratch: string[] = [];
  for (let i = 0; i < tilesM; i++)
    for (let j = 0; j < tilesN; j++) {
      const row = `m0 + am0 + ${i * shape.m}u`;
      const col = `n0 + bn0 + ${j * shape.n}u`;
      direct.push(
        em
          ? laneElems(
              `C[${at(`cBase + (${row}) * u.N + ${col}`, 'row', 'col', false, 'u.N')}] = c${i}_${j}[r];`,
            )
          : `${store(syntax, '&C', `cBase + (${row}) * u.N + ${col}`, `c${i}_${j}`, 'u.N')};`,
      );
      scratch.push(
        em
          ? laneElems(`Cs[${at(`sg * ${cell}u`, 'row', 'col', false, `${shape.n}u`)}] = c${i}_${j}[r];`)
          : `${store(syntax, '&Cs', `sg * ${cell}u`, `c${i}_${j}`, `${shape.n}u`)};`,
      );
      scratch.push('workgroupBarrier();');
      scratch.push(`for (var e = lane; e < ${cell}u; e += ${SUBGROUP}u) {`);
      scratch.push(`  let row = ${row} + e / ${shape.n}u; let col = ${col} + e % ${shape.n}u;`);
      scratch.push(
        `  if (row < u.M && col < u.N) { C[cBase + row * u.N + col] = ${p.outDtype}(Cs[sg * ${cell}u + e]); }`,
      );
      scratch.push('}');
      scratch.push('workgroupBarrier();');
    }
  const epilogue =
    p.directStore && p.outDtype === 'f32'
      ? `if (m0 + ${tm}u <= u.M && n0 + ${tn}u <= u.N) {
    ${direct.join('\n    ')}
  } else {
    ${scratch.join('\n    ')}
  }`
      : scratch.join('\n  ');

  const buffers = db ? 2 : 1;
  const loads = tileLoadsWgsl(sa, sb, bk, tm, tn);
  const stagedLoop = `  ${sa.regs.join('\n  ')}
  ${sb.regs.join('\n  ')}
  ${acc.join('\n  ')}
  let kTiles = (kEnd - kBegin + ${bk - 1}u) / ${bk}u;
  let tiles = ${padOf(p) > 1 ? `select(kTiles, (kTiles + ${padOf(p) - 1}u) / ${padOf(p)}u * ${padOf(p)}u, kTiles >= ${padOf(p)}u)` : 'kTiles'};
  {
    let k0 = kBegin;
    ${loads}
  }
  {
    ${db ? 'let sa = 0u; let sb = 0u;' : ''}
    ${sa.store.join('\n    ')}
    ${sb.store.join('\n    ')}
  }
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let k0 = kBegin + (t + 1u) * ${bk}u;
    ${db ? `let ca = (t % 2u) * ${aSize}u; let cb = (t % 2u) * ${bSize}u; let sa = ${aSize}u - ca; let sb = ${bSize}u - cb;` : ''}
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
  }`;
  // Direct: K in steps of bk straight from A and B (full tiles only, see `direct`).
  const directLoop = `  ${acc.join('\n  ')}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${bk}u) {
    ${inner.join('\n    ')}
  }`;
  const header = em
    ? [p.aDtype, p.bDtype, p.outDtype].includes('f16')
      ? 'enable f16;'
      : ''
    : `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, ${syntax.diagnostic}.subgroup_matrix_uniformity);`;
  return `${header}
${matmulUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> A: array<${aVec ? vecElem(p.aDtype, w) : p.aDtype}>;
@group(0) @binding(2) var<storage, read> B: array<${bVec ? vecElem(p.bDtype, w) : p.bDtype}>;
@group(0) @binding(3) var<storage, read_write> C: array<${p.outDtype}>;
${
  dl
    ? ''
    : `var<workgroup> As: array<${el}, ${buffers * aSize}>;
var<workgroup> Bs: array<${el}, ${buffers * bSize}>;`
}
var<workgroup> Cs: array<f32, ${p.sgM * p.sgN * cell}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sg = lid / ${SUBGROUP}u;
  let lane = lid % ${SUBGROUP}u;
  let am0 = (sg / ${p.sgN}u) * ${tilesM * shape.m}u;
  let bn0 = (sg % ${p.sgN}u) * ${tilesN * shape.n}u;
  ${kRangeWgsl(p.splitK ?? false)}
  let m0 = wid.y * ${tm}u;
  let n0 = wid.x * ${tn}u;
  let aBase = u.aOff + batch * u.aBatch;
  let bBase = u.bOff + batch * u.bBatch;
${dl ? directLoop : stagedLoop}
  ${epilogue}
}`;
}
