import {
  type ConvLoopParams,
  convBackwardWgsl,
  convForwardWgsl,
  convLoopKey,
  convUniforms,
  each,
  type TapSource,
} from '../conv-core/conv-loop.wgsl.js';

/** Compile-time parameters of the head-wise dynamic-conv kernels. */
export interface HeadwiseKernelParams extends ConvLoopParams {
  /** A static filter S `[W, D]` is added to the taps. */
  readonly static: boolean;
  /** Head size 1: dtaps are per channel and written by the token loop (no reduction over channels). */
  readonly perChannel: boolean;
  /**
   * Head size (a power of two up to the subgroup size) whose dtaps the token
   * loop reduces across the head's lanes with subgroup shuffles; 0: a separate
   * (token, head) kernel does it.
   */
  readonly subgroupHead: number;
}

/**
 * Taps of token t for channel c are `taps[t, c / hs, w]` (+ S[w, c]). When W
 * is a multiple of 4 the taps of a (token, head) are read (and, for head size
 * 1, their gradients written) as vec4s: one wide access instead of W.
 */
const source = (p: HeadwiseKernelParams): TapSource => {
  const { W, dtype } = p;
  const vec = W % 4 === 0;
  const Q = W / 4;
  const comp = (w: number): string => `tv${Math.floor(w / 4)}.${'xyzw'[w % 4]}`;
  const tapType = vec ? `vec4<${dtype}>` : dtype;
  const n = vec ? Q : W;
  const tokenVars = Array.from({ length: n }, (_, i) => [`tv${i}`, tapType] as const);
  const loadToken = (tok: string, prefix: string): string =>
    each(n, (i) => `${prefix}tv${i} = tp[((${tok}) * u.H + head) * ${n}u + ${i}u];`, '\n    ');
  const loadTaps = `let tb = (tok * u.H + head) * ${n}u;
    ${each(W, (w) => `let k${w} = f32(${vec ? comp(w) : `tv${w}`})${p.static ? ` + s${w}` : ''};`)}`;
  const sg = p.subgroupHead;
  const g = (w: number): string => (sg > 1 ? `hk${w}` : `dK${w}`);
  const writeTapGrads = vec
    ? each(
        Q,
        (q) =>
          `dtp[tb + ${q}u] = vec4<${dtype}>(${[0, 1, 2, 3].map((i) => `${dtype}(${g(4 * q + i)})`).join(', ')});`,
        '\n        ',
      )
    : each(W, (w) => `dtp[tb + ${w}u] = ${dtype}(${g(w)});`, '\n        ');
  // Butterfly over the head's lanes (aligned blocks of sg lanes): every lane ends with the head's sums.
  const headSums =
    sg > 1
      ? `${each(W, (w) => `var hk${w} = dK${w};`, '\n      ')}
      ${Array.from({ length: Math.log2(sg) }, (_, i) => each(W, (w) => `hk${w} += subgroupShuffleXor(hk${w}, ${1 << i}u);`, '\n      ')).join('\n      ')}
      if (live && c % ${sg}u == 0u) {
        ${writeTapGrads}
      }`
      : '';
  return {
    tokenVars,
    loadToken,
    key: `static=${p.static ? 1 : 0}|hs1=${p.perChannel ? 1 : 0}|sg=${sg}|v${vec ? 4 : 1}`,
    ...(sg > 1 ? { enables: ['subgroups'] } : {}),
    inputs: [['tp', tapType], ...(p.static ? [['sb', dtype] as const] : [])],
    gradOutputs: [
      ...(p.perChannel || sg > 1 ? [['dtp', tapType] as const] : []),
      ...(p.static ? [['part', 'f32'] as const] : []),
    ],
    setup: `let head = c / u.hs;\n  ${p.static ? each(W, (w) => `let s${w} = f32(sb[${w}u * u.D + c]);`, '\n  ') : ''}`,
    taps: loadTaps,
    accumulators: p.static ? each(W, (w) => `var aS${w} = 0.0;`, '\n  ') : '',
    consume: [
      p.perChannel ? `if (live) {\n        ${writeTapGrads}\n      }` : headSums,
      p.static ? each(W, (w) => `aS${w} += dK${w};`, '\n      ') : '',
    ].join('\n      '),
    finish: p.static ? each(W, (w) => `part[(chunk * u.rows + ${w}u) * u.D + c] = aS${w};`, '\n  ') : '',
    backwardNeedsX: p.perChannel || sg > 1 || p.static,
  };
};

export const headwiseForwardKey = (p: HeadwiseKernelParams): string =>
  `dynamicConvHeadwise.fwd|${convLoopKey(p)}|${source(p).key}`;
export const headwiseBackwardKey = (p: HeadwiseKernelParams): string =>
  `dynamicConvHeadwise.bwd|${convLoopKey(p)}|${source(p).key}`;
export const headwiseForwardWgsl = (p: HeadwiseKernelParams): string => convForwardWgsl(p, source(p));
export const headwiseBackwardWgsl = (p: HeadwiseKernelParams): string => convBackwardWgsl(p, source(p));

/** Compile-time parameters of the dtaps reduction kernel (head size > 1, no subgroup path). */
export interface HeadwiseTapGradParams {
  readonly dtype: 'f32' | 'f16';
  readonly W: number;
  readonly docs: boolean;
  readonly workgroup: number;
  /** Head size a multiple of 4: the head's channels are read as vec4s. */
  readonly vec: boolean;
}

export const headwiseTapGradKey = (p: HeadwiseTapGradParams): string =>
  `dynamicConvHeadwise.dtaps|${p.dtype}|W=${p.W}|docs=${p.docs ? 1 : 0}|wg=${p.workgroup}|v${p.vec ? 4 : 1}`;

/**
 * dtaps[t, h, w] = Σ_{c in head h} dy[t, c] · x[t-w, c] (0 when tap w crosses
 * the sequence or document start). One thread per (token, head), reading the
 * head's contiguous channels (as vec4s when the head size allows);
 * consecutive threads read consecutive heads. Grid item = flat token * H + head.
 */
export function headwiseTapGradWgsl(p: HeadwiseTapGradParams): string {
  const { W, dtype } = p;
  const elem = p.vec ? `vec4<${dtype}>` : dtype;
  const n = p.vec ? 4 : 1;
  const load = (buf: string, at: string): string =>
    p.vec ? `vec4<f32>(${buf}[${at}])` : `f32(${buf}[${at}])`;
  const mul = (a: string, b: string): string => (p.vec ? `dot(${a}, ${b})` : `${a} * ${b}`);
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${convUniforms.wgsl}
@group(0) @binding(1) var<storage, read> gb: array<${elem}>;
@group(0) @binding(2) var<storage, read> xb: array<${elem}>;
${p.docs ? `@group(0) @binding(3) var<storage, read> db: array<i32>;\n@group(0) @binding(4)` : '@group(0) @binding(3)'} var<storage, read_write> dtp: array<${dtype}>;

@compute @workgroup_size(${p.workgroup})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = (wid.x + wid.y * u.gridX) * ${p.workgroup}u + lid;
  if (item >= u.count * u.H) { return; }
  let tok = item / u.H;
  let head = item % u.H;
  let t = tok % u.T;
  let start = ${p.docs ? 'u32(max(db[tok], 0))' : '0u'};
  ${each(W, (w) => `var a${w} = 0.0;`, '\n  ')}
  let row = u.D / ${n}u;
  let c0 = head * (u.hs / ${n}u);
  for (var j = 0u; j < u.hs / ${n}u; j++) {
    let c = c0 + j;
    let gv = ${load('gb', 'tok * row + c')};
    ${each(W, (w) => (w === 0 ? `a0 += ${mul('gv', load('xb', 'tok * row + c'))};` : `if (t >= start + ${w}u) { a${w} += ${mul('gv', load('xb', `(tok - ${w}u) * row + c`))}; }`), '\n    ')}
  }
  ${each(W, (w) => `dtp[item * ${W}u + ${w}u] = ${dtype}(a${w});`, '\n  ')}
}`;
}
