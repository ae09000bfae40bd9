import { bindingDecls, type ConvLayout, contiguousLayout, streamLets } from '../conv-core/conv-layout.js';
import {
  type ConvLoopParams,
  convBackwardWgsl,
  convForwardWgsl,
  convLoopKey,
  convUniforms,
  each,
  type TapSource,
} from '../conv-core/conv-loop.wgsl.js';
import {
  type PackedAccess,
  packedConvLayout,
  xRowStart,
  zGradLayout,
  zGradSliceStart,
  zIndex,
} from './packed-layout.js';
import { perStreamTile, stagedTile, stagedUTile } from './staged-tile.js';

/** Compile-time parameters of the low-rank dynamic-conv kernels. */
export interface LowRankKernelParams extends ConvLoopParams {
  /** Generator rank, 1..64: z and the U column of a channel live in registers. */
  readonly R: number;
  /** A static filter S `[W, D]` is added to the taps. */
  readonly static: boolean;
  /**
   * Backward split: 'fused' walks once for dx and the dU/dS partials; 'dx' and
   * 'params' are the two halves as separate kernels, each with half the
   * registers (U column, or dU accumulators) and so twice the resident threads.
   * Forward kernels ignore it.
   */
  readonly backward: 'fused' | 'dx' | 'params';
  /**
   * Sum the R products of each tap as a balanced tree instead of a chain:
   * log2(R) dependent adds instead of R dependent FMAs per tap (more
   * instruction-level parallelism per thread; rounding differs in the last bits).
   */
  readonly tree: boolean;
  /** Stage z in workgroup memory this many tokens at a time (0: each thread prefetches its own z loads). */
  readonly stageZ: number;
  /**
   * Forward: also write U in the dz kernel's layout (lowRankUTransposeWgsl)
   * from the U column each thread holds anyway (the threads of chunk 0), so
   * the backward needs no transposing dispatch.
   */
  readonly writeUT?: boolean;
  /** x, dx and z as column ranges of one packed tensor (packed-layout.ts); absent: tensors of their own. */
  readonly packed?: PackedAccess;
  /**
   * Packed only: streams of this shape one dispatch covers (default 1), each
   * with its own dy, y, U and S bindings; grid x spans streams × channel blocks.
   */
  readonly streams?: number;
}

/** Bindings of the token-loop kernels that exist once per stream (packed layout). */
const PER_STREAM = ['gb', 'yb', 'ub', 'sb'];

/** The token-loop kernels' layout: contiguous, or packed (packed-layout.ts). */
const layoutOf = (p: LowRankKernelParams): ConvLayout =>
  p.packed ? packedConvLayout(p.packed, p.streams ?? 1, PER_STREAM) : contiguousLayout;

/**
 * Row of chunk `chunk`'s partials: packed, the streams' partials follow one
 * another (`[streams, numChunks, rows, D]`); contiguous, `[numChunks, rows, D]`.
 */
const partChunk = (p: { readonly packed?: PackedAccess }): string =>
  p.packed ? '(stream * u.numChunks + chunk)' : 'chunk';

/** Whether z is read as vec4s: R a multiple of 4 and, packed, a vec4-aligned layout. */
const zVec4 = (p: LowRankKernelParams): boolean => p.R % 4 === 0 && p.packed !== 'scalar';

/** Σ of `terms` as a balanced binary tree (pairs, then pairs of pairs, ...). */
const treeSum = (terms: readonly string[]): string => {
  if (terms.length === 1) return terms[0]!;
  const half = Math.ceil(terms.length / 2);
  return `(${treeSum(terms.slice(0, half))} + ${treeSum(terms.slice(half))})`;
};

/** Partial rows per chunk in the backward: dU (R*W rows, row r*W + w) then dS (W rows). */
export const lowRankPartialRows = (p: LowRankKernelParams): number => p.R * p.W + (p.static ? p.W : 0);

/**
 * Taps `K[t, w, c] = Σ_r z[t, r] · U[r, w*D + c] (+ S[w, c])`, formed in
 * registers and never written to memory; the channel's U column is loaded once per thread.
 */
const source = (p: LowRankKernelParams): TapSource => {
  const { W, R, dtype } = p;
  const layout = layoutOf(p);
  // z of a token is R contiguous values: read as vec4s when R is a multiple of 4 (one wide broadcast load per 4 ranks).
  const vecZ = zVec4(p);
  const nz = vecZ ? R / 4 : R;
  const zType = vecZ ? `vec4<${dtype}>` : dtype;
  const tokenVars = Array.from({ length: nz }, (_, i) => [`zv${i}`, zType] as const);
  const loadToken = (tok: string, prefix: string): string =>
    each(nz, (i) => `${prefix}zv${i} = zb[${zIndex(tok, `${i}u`, nz, p.packed, vecZ)}];`, '\n    ');
  const SB = p.stageZ;
  const zStageType = vecZ ? 'vec4<f32>' : 'f32';
  const staged = SB
    ? {
        decl: `var<workgroup> zs: array<${zStageType}, ${SB * nz}>;`,
        block: SB,
        fill: `for (var e = lid; e < nb * ${nz}u; e += ${p.workgroup}u) { zs[e] = ${zStageType}(zb[${p.packed ? zIndex(`sb0 + e / ${nz}u`, `e % ${nz}u`, nz, p.packed, vecZ) : `sb0 * ${nz}u + e`}]); }`,
        tile: {
          name: 'zs',
          type: zStageType,
          read: (row: string, col: string) =>
            `zb[${p.packed ? zIndex(row, col, nz, p.packed, vecZ) : `${row} * ${nz}u + ${col}`}]`,
          perToken: nz,
        },
      }
    : undefined;
  const zOf = (i: number): string => (SB ? `zs[(tok - sb0) * ${nz}u + ${i}u]` : `zv${i}`);
  const zLoads = `${SB && vecZ ? each(nz, (i) => `let zq${i} = ${zOf(i)};`) : ''}
    ${each(R, (r) => `let z${r} = f32(${vecZ ? `${SB ? 'zq' : 'zv'}${Math.floor(r / 4)}.${'xyzw'[r % 4]}` : zOf(r)});`)}`;
  const rw = (f: (r: number, w: number) => string, sep = '\n  '): string =>
    Array.from({ length: R * W }, (_, i) => f(Math.floor(i / W), i % W)).join(sep);
  // Per-channel parameters into registers, from the workgroup's stream's U and S.
  const uColumn = streamLets(
    layout,
    Array.from({ length: R * W }, (_, i) => {
      const [r, w] = [Math.floor(i / W), i % W];
      return {
        name: `u${r}_${w}`,
        type: 'f32',
        value: (b) => `f32(${b('ub')}[${r}u * u.WD + ${w}u * u.D + c])`,
      };
    }),
    '\n  ',
  );
  const sColumn = streamLets(
    layout,
    Array.from({ length: W }, (_, w) => ({
      name: `s${w}`,
      type: 'f32',
      value: (b: (n: string) => string) => `f32(${b('sb')}[${w}u * u.D + c])`,
    })),
    '\n  ',
  );
  const needK = p.backward !== 'params';
  const needParams = p.backward !== 'dx';
  return {
    key: `R=${R}|static=${p.static ? 1 : 0}|z${vecZ ? 4 : 1}|bwd=${p.backward}|tree=${p.tree ? 1 : 0}|stage=${SB}${p.writeUT ? '|ut' : ''}${layout.key}`,
    ...(staged ? { staged } : { tokenVars, loadToken }),
    inputs: [
      ['zb', vecZ ? `vec4<${dtype}>` : dtype],
      ['ub', dtype],
      ...(p.static ? [['sb', dtype] as const] : []),
    ],
    gradOutputs: needParams ? [['part', 'f32']] : [],
    ...(p.writeUT ? writeUT(W, R, p) : {}),
    setup: needK ? `${uColumn}\n  ${p.static ? sColumn : ''}` : '',
    taps: `${zLoads}
    ${needK ? each(W, (w) => `let k${w} = ${tapSum(R, w, p.tree, p.static ? `s${w}` : undefined)};`) : ''}`,
    backwardNeedsX: needParams,
    backwardDx: needK,
    ...(needParams ? paramGrads(p, rw) : {}),
  };
};

/**
 * The forward's `utb` output: U of channel c as `utb[(c * W + w) * Q + q]`
 * vec4s over r (zero past R); packed, the streams' follow one another (`c` → `stream * D + c`).
 */
const writeUT = (W: number, R: number, p: LowRankKernelParams) => {
  const ch = p.packed ? '(stream * u.D + c)' : 'c';
  const Q = Math.ceil(R / 4);
  const comp = (r: number, w: number): string => (r < R ? `u${r}_${w}` : '0.0');
  return {
    forwardOutputs: [['utb', 'vec4<f32>']] as const,
    forwardSetup: `if (chunk == 0u && live) {
    ${each(W * Q, (i) => {
      const w = Math.floor(i / Q);
      const q = i % Q;
      return `utb[(${ch} * ${W}u + ${w}u) * ${Q}u + ${q}u] = vec4<f32>(${each(4, (k) => comp(4 * q + k, w), ', ')});`;
    })}
  }`,
  };
};

/** `init` + Σ_r z_r · u_{r,w}, chained or as a tree. */
const tapSum = (R: number, w: number, tree: boolean, init?: string): string => {
  const terms = Array.from({ length: R }, (_, r) => `z${r} * u${r}_${w}`);
  const sum = tree ? treeSum(terms) : terms.join(' + ');
  return init ? `${init} + ${sum}` : sum;
};

/** The dU (and dS) accumulation over a thread's tokens, written as per-chunk partials. */
const paramGrads = (
  p: LowRankKernelParams,
  rw: (f: (r: number, w: number) => string, sep?: string) => string,
) => {
  const { W, R } = p;
  return {
    accumulators: `${rw((r, w) => `var aU${r}_${w} = 0.0;`)}
  ${p.static ? each(W, (w) => `var aS${w} = 0.0;`, '\n  ') : ''}`,
    consume: `${rw((r, w) => `aU${r}_${w} += z${r} * dK${w};`, '\n      ')}
      ${p.static ? each(W, (w) => `aS${w} += dK${w};`, '\n      ') : ''}`,
    finish: `${rw((r, w) => `part[(${partChunk(p)} * u.rows + ${r * W + w}u) * u.D + c] = aU${r}_${w};`)}
  ${p.static ? each(W, (w) => `part[(${partChunk(p)} * u.rows + ${R * W + w}u) * u.D + c] = aS${w};`, '\n  ') : ''}`,
  };
};

export const lowRankForwardKey = (p: LowRankKernelParams): string =>
  `dynamicConvLowRank.fwd|${convLoopKey(p)}|${source(p).key}`;
export const lowRankBackwardKey = (p: LowRankKernelParams): string =>
  `dynamicConvLowRank.bwd|${convLoopKey(p)}|${source(p).key}`;
export const lowRankForwardWgsl = (p: LowRankKernelParams): string =>
  convForwardWgsl(p, source(p), layoutOf(p));
export const lowRankBackwardWgsl = (p: LowRankKernelParams): string =>
  convBackwardWgsl(p, source(p), layoutOf(p));

/** Compile-time parameters of the dz kernel. */
export interface LowRankZGradParams {
  readonly dtype: 'f32' | 'f16';
  readonly W: number;
  readonly R: number;
  readonly docs: boolean;
  /** Threads per workgroup. */
  readonly threads: number;
  /**
   * Tokens each thread owns (`tokens * threads` per workgroup). Every U value
   * read from workgroup memory feeds this many tokens: more tokens, fewer
   * shared-memory reads per FMA (and more accumulator registers).
   */
  readonly tokens: number;
  /** Channels staged per step (default: zGradChannels' fit within 16 KiB). */
  readonly channels?: number;
  /**
   * Software pipelining: the next step's dy, x and U are loaded into registers
   * before this step's multiply-adds and stored to workgroup memory after
   * them, so global-memory latency overlaps the arithmetic (without it, the
   * H100 spent ~0.2 of the kernel's 0.32 ms in the staging loads).
   */
  readonly prefetch?: boolean;
  /** x read from a packed tensor (packed-layout.ts); absent: x of its own. */
  readonly packed?: PackedAccess;
  /** Packed only: streams one dispatch covers (default 1), each with its own dy (grid z: streams × slices). */
  readonly streams?: number;
}

/** Channels staged per step: keeps the U slice near 4 KiB and the dy and x tiles near 12 KiB, so all stay within 16 KiB. */
export const zGradChannels = (p: LowRankZGradParams): number =>
  p.channels ??
  Math.max(
    1,
    Math.min(
      8,
      Math.floor(256 / (p.W * Math.ceil(p.R / 4))),
      Math.floor(2900 / (2 * p.tokens * p.threads + p.W)),
    ),
  );

export const lowRankZGradKey = (p: LowRankZGradParams): string =>
  `dynamicConvLowRank.dz|${p.dtype}|W=${p.W}|R=${p.R}|docs=${p.docs ? 1 : 0}|threads=${p.threads}|tokens=${p.tokens}|cc=${zGradChannels(p)}|pf=${p.prefetch ? 1 : 0}|ut${zGradLayout(p).key}`;

/**
 * Partial dz over one slice of channels: `part[slice, t, r] = Σ_w Σ_{c in slice}
 * dy[t, c] · x[t-w, c] · U[r, w*D + c]` (tap w masked at sequence/document
 * starts); a second pass sums the slices in order (deterministic). A
 * workgroup owns 2·threads tokens and one slice (grid z); each thread holds the
 * R sums of two tokens, so each U value read from shared memory (a vec4 over r,
 * read as a broadcast) feeds two tokens. dy, x and U are staged CC channels at
 * a time, rows padded by one float against bank conflicts.
 */
export function lowRankZGradWgsl(p: LowRankZGradParams): string {
  const { W, R, dtype, threads: N, tokens: K } = p;
  const layout = zGradLayout(p);
  const TT = K * N;
  const CC = zGradChannels(p);
  const Q = Math.ceil(R / 4);
  const stride = CC + 1;
  const rows = TT + W - 1;
  const comps = ['x', 'y', 'z', 'w'];
  const token = (k: number): string => `
  let tok${k} = tBase + lid + ${k * N}u;
  let live${k} = tok${k} < u.count;
  let t${k} = tok${k} % u.T;
  let start${k} = ${p.docs ? `select(0u, u32(max(db[min(tok${k}, u.count - 1u)], 0)), live${k})` : '0u'};
  ${each(W, (w) => `let m${k}_${w} = select(0.0, 1.0, live${k} && t${k} >= start${k} + ${w}u);`, '\n  ')}
  ${each(Q, (q) => `var acc${k}_${q} = vec4<f32>(0.0);`, '\n  ')}`;
  const write = (k: number): string =>
    `if (live${k}) {
    let o = (slice * u.count + tok${k}) * ${R}u;
    ${Array.from({ length: R }, (_, r) => `part[o + ${r}u] = acc${k}_${Math.floor(r / 4)}.${comps[r % 4]};`).join('\n    ')}
  }`;
  // Element e of a [rows][CC] tile: row e / CC, column e % CC; unrolled (n given, CC | N) from per-thread constants.
  const rowCol = (e: string, n?: number): string =>
    n !== undefined && N % CC === 0
      ? `let i = si + ${(n * N) / CC}u; let j = sj;`
      : `let i = ${e} / ${CC}u; let j = ${e} % ${CC}u;`;
  const tiles = [
    perStreamTile(layout, 'gb', (gb) =>
      stagedTile({
        name: 'g',
        type: 'f32',
        count: TT * CC,
        threads: N,
        index: rowCol,
        value: (c0) =>
          `select(0.0, f32(${gb}[min(tBase + i, u.count - 1u) * u.D + min(${c0} + j, u.D - 1u)]), tBase + i < u.count && ${c0} + j < cEnd)`,
        store: (v) => `gS[i * ${stride}u + j] = ${v};`,
      }),
    ),
    // Row i holds flat token tBase + i - (W-1); rows before token 0 or past the end stay 0.
    stagedTile({
      name: 'x',
      type: 'f32',
      count: rows * CC,
      threads: N,
      index: (e, n) => `${rowCol(e, n)} let s = i32(tBase + i) - ${W - 1};`,
      value: (c0) =>
        `select(0.0, f32(xb[${xRowStart('u32(clamp(s, 0, i32(u.count) - 1))', p.packed)} + min(${c0} + j, u.D - 1u)]), s >= 0 && s < i32(u.count) && ${c0} + j < cEnd)`,
      store: (v) => `xS[i * ${stride}u + j] = ${v};`,
    }),
    stagedUTile(CC, W, Q, N, !!p.packed),
  ];
  const prologue = p.prefetch ? tiles.map((t) => `${t.decl}\n  ${t.load('cStart')}`).join('\n  ') : '';
  const stageIn = tiles.map((t) => (p.prefetch ? t.store : t.loop)).join('\n    ');
  const prefetchNext = p.prefetch
    ? `if (c0 + ${CC}u < cEnd) {\n      ${tiles.map((t) => t.load(`c0 + ${CC}u`)).join('\n      ')}\n    }`
    : '';
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${layout.uniforms.wgsl}
${bindingDecls(layout, [
  ['gb', dtype, false],
  ['xb', dtype, false],
  ['ut', 'vec4<f32>', false],
  ...(p.docs ? [['db', 'i32', false] as const] : []),
  ['part', 'f32', true],
])}

var<workgroup> gS: array<f32, ${TT * stride}>;
var<workgroup> xS: array<f32, ${rows * stride}>;
var<workgroup> uS: array<vec4<f32>, ${CC * W * Q}>;

@compute @workgroup_size(${N})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tBase = (wid.x + wid.y * u.gridX) * ${TT}u;
  ${zGradSliceStart(layout)}
  let cEnd = min(cStart + u.L, u.D);
  let si = lid / ${CC}u;
  let sj = lid % ${CC}u;
  ${each(K, token, '\n  ')}
  ${prologue}
  for (var c0 = cStart; c0 < cEnd; c0 += ${CC}u) {
    ${stageIn}
    workgroupBarrier();
    ${prefetchNext}
    for (var j = 0u; j < ${CC}u; j++) {
      ${each(K, (k) => `let g${k} = gS[(lid + ${k * N}u) * ${stride}u + j];`, '\n      ')}
      ${each(
        W,
        (w) => `{
        ${each(K, (k) => `let d${k} = g${k} * xS[(lid + ${k * N + W - 1 - w}u) * ${stride}u + j] * m${k}_${w};`, '\n        ')}
        let ub0 = (j * ${W}u + ${w}u) * ${Q}u;
        ${each(Q, (q) => `{ let uv = uS[ub0 + ${q}u]; ${each(K, (k) => `acc${k}_${q} += d${k} * uv;`, ' ')} }`, '\n        ')}
      }`,
        '\n      ',
      )}
    }
    workgroupBarrier();
  }
  ${each(K, write, '\n  ')}
}`;
}

export const lowRankUTransposeKey = (dtype: 'f32' | 'f16', W: number, R: number): string =>
  `dynamicConvLowRank.uT|${dtype}|W=${W}|R=${R}`;

/**
 * U `[R, W*D]` to the dz kernel's layout: `ut[(c * W + w) * Q + q]` =
 * `U[4q .. 4q+3, w*D + c]` as an f32 vec4 (zero past R), Q = ceil(R/4), one
 * thread per vec4 (`u.count` = D·W·Q of them).
 */
export function lowRankUTransposeWgsl(dtype: 'f32' | 'f16', W: number, R: number): string {
  const Q = Math.ceil(R / 4);
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${convUniforms.wgsl}
@group(0) @binding(1) var<storage, read> ub: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> ut: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x + gid.y * u.gridX * 256u;
  if (e >= u.count) { return; }
  let q = e % ${Q}u; let w = (e / ${Q}u) % ${W}u; let c = e / ${Q * W}u;
  var v = vec4<f32>(0.0);
  ${each(4, (k) => `if (q * 4u + ${k}u < ${R}u) { v.${'xyzw'[k]} = f32(ub[(q * 4u + ${k}u) * u.WD + w * u.D + c]); }`, '\n  ')}
  ut[e] = v;
}`;
}
