import { bindingDecls } from '../conv-core/conv-layout.js';
import { each } from '../conv-core/conv-loop.wgsl.js';
import { type PackedAccess, xRowStart, zGradLayout, zGradSliceStart } from './packed-layout.js';
import { perStreamTile, stagedTile, stagedUTile } from './staged-tile.js';

/** Compile-time parameters of the quad dz kernel. */
export interface LowRankZGradQuadsParams {
  readonly dtype: 'f32' | 'f16';
  readonly W: number;
  readonly R: number;
  readonly docs: boolean;
  /** Channels staged per step. */
  readonly channels: number;
  /**
   * Stage dy and x with vec4 loads along channels (one load per 4 channels of
   * a token instead of one per channel), transposed into the token-vec4 tiles
   * by component stores. Needs D and the channel slices to be multiples of 4.
   */
  readonly vec4Loads?: boolean;
  /** x read from a packed tensor (packed-layout.ts; vec4Loads needs 'vec4'); absent: x of its own. */
  readonly packed?: PackedAccess;
  /** Packed only: streams one dispatch covers (default 1), each with its own dy (grid z: streams × slices). */
  readonly streams?: number;
}

/** Groups of 4 consecutive tokens per workgroup (one thread per group and rank quad, <= 128 threads). */
const groupsOf = (R: number): number => Math.max(1, Math.floor(128 / Math.ceil(R / 4)));

/** Threads per workgroup of the quad dz kernel. */
export const zGradQuadsThreads = (p: LowRankZGradQuadsParams): number => groupsOf(p.R) * Math.ceil(p.R / 4);

/** Tokens a workgroup of the quad dz kernel owns. */
export const zGradQuadsTokens = (p: LowRankZGradQuadsParams): number => 4 * groupsOf(p.R);

export const lowRankZGradQuadsKey = (p: LowRankZGradQuadsParams): string =>
  `dynamicConvLowRank.dzQuads|${p.dtype}|W=${p.W}|R=${p.R}|docs=${p.docs ? 1 : 0}|cc=${p.channels}|v4=${p.vec4Loads ? 1 : 0}${zGradLayout(p).key}`;

/**
 * Partial dz over one slice of channels (the output of `lowRankZGradWgsl`,
 * `part[slice, t, r] = Σ_w Σ_{c in slice} dy[t, c] · x[t-w, c] · U[r, w*D + c]`)
 * with a thread per (4 consecutive tokens, 4 consecutive ranks): per staged
 * channel a thread reads its tokens' dy as one vec4, their x window as
 * 1 + ceil((W-1)/4) vec4s and its rank quad of U as W vec4s, for 16·W
 * multiply-adds — a third of the workgroup-memory reads per multiply-add of
 * the one-token-per-thread kernel, whose U reads bounded it on the H100.
 * The rank quad is the fastest-varying thread index, so the four threads of
 * a token group read the same dy/x addresses (broadcast). Taps that cross a
 * sequence or document start are masked in a separate copy of the inner loop
 * that only threads owning such a token take. U comes transposed
 * (`lowRankUTransposeWgsl`), dy and x are software-pipelined through registers.
 */
export function lowRankZGradQuadsWgsl(p: LowRankZGradQuadsParams): string {
  const { W, R, dtype, channels: CC } = p;
  const layout = zGradLayout(p);
  const Q = Math.ceil(R / 4);
  const G = groupsOf(R);
  const N = G * Q;
  const TT = 4 * G;
  const P = Math.ceil((W - 1) / 4); // x groups before a token group that its taps reach
  const GS = G + 1; // dy groups per staged channel row (+1 against bank conflicts)
  const XS = G + P + 1; // x groups per staged channel row (G + P used)
  const comps = ['x', 'y', 'z', 'w'];
  // x of token k (0..3) of the thread's group at tap w: group a = P + floor((k - w) / 4), component (k - w) mod 4.
  const xAt = (k: number, w: number): string => {
    const o = k - w;
    const a = P + Math.floor(o / 4);
    return `xv${a}.${comps[((o % 4) + 4) % 4]}`;
  };
  const inner = (masked: boolean): string =>
    each(
      W,
      (w) => `{
          let uv = uS[(j * ${W}u + ${w}u) * ${Q}u + q];
          ${each(4, (k) => `acc${k} += (g4.${comps[k]} * ${xAt(k, w)}${masked ? ` * m${k}_${w}` : ''}) * uv;`, '\n          ')}
        }`,
      '\n        ',
    );
  // Staged elements: dy groups (GS per channel row, G used), x groups (G + P used), U quads.
  const gCount = CC * G;
  const xCount = CC * (G + P);
  const uCount = CC * W * Q;
  if (p.vec4Loads && p.packed === 'scalar')
    throw new Error('lowRankZGradQuadsWgsl: vec4Loads needs a vec4 layout');
  // Row start of token row `row` of dy (contiguous) or x (in the kernel's layout).
  const rowStart = (buf: string, row: string, vec4 = false): string =>
    xRowStart(row, buf === 'xb' ? p.packed : undefined, vec4);
  // Token s (i32 flat index) of channel c, 0 outside [0, count) and past cEnd.
  const load = (buf: string, s: string, c: string): string =>
    `select(0.0, f32(${buf}[${rowStart(buf, `u32(clamp(${s}, 0, i32(u.count) - 1))`)} + min(${c}, u.D - 1u)]), ${s} >= 0 && ${s} < i32(u.count) && ${c} < cEnd)`;
  const group4 = (buf: string, first: string, c: string): string =>
    `vec4<f32>(${each(4, (k) => load(buf, `(${first} + ${k})`, c), ', ')})`;
  const CQ = CC / 4;
  // vec4 staging: element e is (tile row e / CQ, channel quad e % CQ); row r of a tile goes to
  // group r / 4, component r % 4, of the 4 channel rows of its quad.
  const rowLoad = (buf: string, s: string, c0: string): string =>
    `select(vec4<f32>(0.0), vec4<f32>(${buf}[${rowStart(buf, `u32(clamp(${s}, 0, i32(u.count) - 1))`, true)} + min((${c0}) / 4u + tq, u.D / 4u - 1u)]), ${s} >= 0 && ${s} < i32(u.count) && (${c0}) + 4u * tq < cEnd)`;
  const rowStore = (arr: string, stride: number, v: string): string =>
    `let rg = tr / 4u; let rk = tr % 4u; ${each(4, (m) => `${arr}[(4u * tq + ${m}u) * ${stride}u + rg][rk] = ${v}.${comps[m]};`, ' ')}`;
  const tile = (
    name: string,
    count: number,
    index: (e: string) => string,
    value: (c0: string) => string,
    store: (v: string) => string,
  ) => stagedTile({ name, type: 'vec4<f32>', count, threads: N, index, value, store });
  // vec4 staging: element e is (tile row tr = e / CQ, channel quad tq = e % CQ).
  const quadIndex = (e: string): string => `let tr = ${e} / ${CQ}u; let tq = ${e} % ${CQ}u;`;
  // Scalar staging: element e is (token group e / CC, channel e % CC).
  const groupIndex = (e: string): string => `let gj = ${e} % ${CC}u; let ti = ${e} / ${CC}u;`;
  const tiles = [
    ...(p.vec4Loads
      ? [
          perStreamTile(layout, 'gb', (gb) =>
            tile(
              'gr',
              TT * CQ,
              quadIndex,
              (c0) => rowLoad(gb, 'i32(tBase + tr)', c0),
              (v) => rowStore('gT', GS, v),
            ),
          ),
          // Row r of the x tile is token tBase + r - 4P.
          tile(
            'xr',
            (TT + 4 * P) * CQ,
            quadIndex,
            (c0) => rowLoad('xb', `(i32(tBase + tr) - ${4 * P})`, c0),
            (v) => rowStore('xT', XS, v),
          ),
        ]
      : [
          perStreamTile(layout, 'gb', (gb) =>
            tile(
              'gr',
              gCount,
              groupIndex,
              (c0) => group4(gb, 'i32(tBase + 4u * ti)', `${c0} + gj`),
              (v) => `gT[gj * ${GS}u + ti] = ${v};`,
            ),
          ),
          // Group i holds tokens tBase + 4(i - P) .. +3.
          tile(
            'xr',
            xCount,
            groupIndex,
            (c0) => group4('xb', `(i32(tBase + 4u * ti) - ${4 * P})`, `${c0} + gj`),
            (v) => `xT[gj * ${XS}u + ti] = ${v};`,
          ),
        ]),
    stagedUTile(CC, W, Q, N, !!p.packed),
  ];
  const decls = tiles.map((t) => t.decl).join('\n  ');
  const loads = (c0: string): string => tiles.map((t) => t.load(c0)).join('\n    ');
  const stores = tiles.map((t) => t.store).join('\n    ');
  const token = (k: number): string => `
  let tok${k} = tBase + 4u * gi + ${k}u;
  let live${k} = tok${k} < u.count;
  let t${k} = tok${k} % u.T;
  let start${k} = ${p.docs ? `select(0u, u32(max(db[min(tok${k}, u.count - 1u)], 0)), live${k})` : '0u'};
  ${each(W, (w) => `let m${k}_${w} = select(0.0, 1.0, live${k} && t${k} >= start${k} + ${w}u);`, '\n  ')}
  var acc${k} = vec4<f32>(0.0);`;
  const write = (k: number): string =>
    `if (live${k}) {
    let o = (slice * u.count + tok${k}) * ${R}u + 4u * q;
    ${each(4, (r) => `if (4u * q + ${r}u < ${R}u) { part[o + ${r}u] = acc${k}.${comps[r]}; }`, '\n    ')}
  }`;
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${layout.uniforms.wgsl}
${bindingDecls(layout, [
  ['gb', p.vec4Loads ? `vec4<${dtype}>` : dtype, false],
  ['xb', p.vec4Loads ? `vec4<${dtype}>` : dtype, false],
  ['ut', 'vec4<f32>', false],
  ...(p.docs ? [['db', 'i32', false] as const] : []),
  ['part', 'f32', true],
])}

var<workgroup> gT: array<vec4<f32>, ${CC * GS}>;
var<workgroup> xT: array<vec4<f32>, ${CC * XS}>;
var<workgroup> uS: array<vec4<f32>, ${uCount}>;

@compute @workgroup_size(${N})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tBase = (wid.x + wid.y * u.gridX) * ${TT}u;
  ${zGradSliceStart(layout)}
  let cEnd = min(cStart + u.L, u.D);
  let q = lid % ${Q}u;
  let gi = lid / ${Q}u;
  ${each(4, token, '\n  ')}
  // Whether any of the thread's taps needs its mask (a sequence or document start within reach).
  var masked = false;
  ${each(4, (k) => each(W, (w) => `masked = masked || m${k}_${w} == 0.0;`, ' '), '\n  ')}
  ${decls}
  ${loads('cStart')}
  for (var c0 = cStart; c0 < cEnd; c0 += ${CC}u) {
    ${stores}
    workgroupBarrier();
    if (c0 + ${CC}u < cEnd) {
      ${loads(`c0 + ${CC}u`)}
    }
    for (var j = 0u; j < ${CC}u; j++) {
      let g4 = gT[j * ${GS}u + gi];
      ${each(P + 1, (a) => `let xv${a} = xT[j * ${XS}u + gi + ${a}u];`, '\n      ')}
      if (masked) {
        ${inner(true)}
      } else {
        ${inner(false)}
      }
    }
    workgroupBarrier();
  }
  ${each(4, write, '\n  ')}
}`;
}

/** Workgroup memory of the quad dz kernel, bytes (the launcher picks `channels` to fit the device). */
export const zGradQuadsBytes = (p: LowRankZGradQuadsParams): number => {
  const G = groupsOf(p.R);
  const P = Math.ceil((p.W - 1) / 4);
  return 16 * p.channels * (G + 1 + G + P + 1 + p.W * Math.ceil(p.R / 4));
};
