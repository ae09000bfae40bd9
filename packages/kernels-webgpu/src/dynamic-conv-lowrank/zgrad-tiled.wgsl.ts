import { convUniforms, each } from '../conv-core/conv-loop.wgsl.js';
import { stageUSlice } from './dynamic-conv-lowrank.wgsl.js';

/** Compile-time parameters of the tiled dz kernel. */
export interface LowRankZGradTiledParams {
  readonly dtype: 'f32' | 'f16';
  readonly W: number;
  readonly R: number;
  readonly docs: boolean;
  /** Threads per workgroup; each owns 4 consecutive tokens. */
  readonly threads: number;
  /** Channels staged per step (tiles are [channel][4-token group] vec4s). */
  readonly channels: number;
}

/** Tokens a workgroup of the tiled dz kernel owns. */
export const zGradTiledTokens = (p: LowRankZGradTiledParams): number => 4 * p.threads;

/** Workgroup memory of the tiled dz kernel, bytes (the launcher picks `channels` to fit the device). */
export const zGradTiledBytes = (p: LowRankZGradTiledParams): number =>
  16 * p.channels * (p.threads + 1 + p.threads + 2 + p.W * Math.ceil(p.R / 4));

export const lowRankZGradTiledKey = (p: LowRankZGradTiledParams): string =>
  `dynamicConvLowRank.dzTiled|${p.dtype}|W=${p.W}|R=${p.R}|docs=${p.docs ? 1 : 0}|threads=${p.threads}|cc=${p.channels}`;

/**
 * Partial dz over one slice of channels, as `lowRankZGradWgsl` computes it
 * (`part[slice, t, r] = Σ_w Σ_{c in slice} dy[t, c] · x[t-w, c] · U[r, w*D + c]`),
 * with a layout that needs fewer workgroup-memory reads per multiply-add:
 * each thread owns 4 consecutive tokens, dy and x are staged transposed as
 * vec4s over 4 tokens ([channel][token group]), so one read brings a token
 * group's dy and two reads its whole x window (x[t-4 .. t+3], so W <= 5); each U vec4
 * (over r, a broadcast read) feeds 4 tokens. Per staged channel: 19 reads for
 * 64·4 multiply-adds (the interleaved layout: 26 for 64·2).
 */
export function lowRankZGradTiledWgsl(p: LowRankZGradTiledParams): string {
  const { W, R, dtype, threads: N, channels: CC } = p;
  if (W > 5)
    throw new RangeError(`lowRankZGradTiledWgsl: W=${W} (the x window of a 4-token group covers W <= 5)`);
  const TT = 4 * N;
  const Q = Math.ceil(R / 4);
  const GS = N + 1; // dy groups per channel row (+1 against bank conflicts)
  const XS = N + 2; // x groups per channel row: N + 1 used
  const comps = ['x', 'y', 'z', 'w'];
  // x at offset o from the group's first token: o < 0 from the previous group (xlo), else this one (xhi).
  const xAt = (o: number): string => (o < 0 ? `xlo.${comps[o + 4]}` : `xhi.${comps[o]}`);
  const token = (k: number): string => `
  let tok${k} = tBase + 4u * lid + ${k}u;
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
  // Loads token s (i32) of channel c, 0 outside [0, count).
  const load = (buf: string, s: string): string =>
    `select(0.0, f32(${buf}[u32(clamp(${s}, 0, i32(u.count) - 1)) * u.D + c]), ${s} >= 0 && ${s} < i32(u.count))`;
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${convUniforms.wgsl}
@group(0) @binding(1) var<storage, read> gb: array<${dtype}>;
@group(0) @binding(2) var<storage, read> xb: array<${dtype}>;
@group(0) @binding(3) var<storage, read> ub: array<${dtype}>;
${p.docs ? '@group(0) @binding(4) var<storage, read> db: array<i32>;\n@group(0) @binding(5)' : '@group(0) @binding(4)'} var<storage, read_write> part: array<f32>;

var<workgroup> gT: array<vec4<f32>, ${CC * GS}>;
var<workgroup> xT: array<vec4<f32>, ${CC * XS}>;
var<workgroup> uS: array<vec4<f32>, ${CC * W * Q}>;

@compute @workgroup_size(${N})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tBase = (wid.x + wid.y * u.gridX) * ${TT}u;
  let slice = wid.z;
  let cStart = slice * u.L;
  let cEnd = min(cStart + u.L, u.D);
  ${each(4, token, '\n  ')}
  for (var c0 = cStart; c0 < cEnd; c0 += ${CC}u) {
    // Channel-fastest, so a warp's loads are runs of CC consecutive channels of a token row.
    for (var e = lid; e < ${CC * N}u; e += ${N}u) {
      let j = e % ${CC}u; let i = e / ${CC}u; let c = min(c0 + j, u.D - 1u);
      let s0 = i32(tBase + 4u * i);
      var v = vec4<f32>(${each(4, (k) => load('gb', `(s0 + ${k})`), ', ')});
      if (c0 + j >= cEnd) { v = vec4<f32>(0.0); }
      gT[j * ${GS}u + i] = v;
    }
    // Group i holds tokens tBase - 4 + 4i .. +3 (group 0 is the window before the first token).
    for (var e = lid; e < ${CC * (N + 1)}u; e += ${N}u) {
      let j = e % ${CC}u; let i = e / ${CC}u; let c = min(c0 + j, u.D - 1u);
      let s0 = i32(tBase + 4u * i) - 4;
      var v = vec4<f32>(${each(4, (k) => load('xb', `(s0 + ${k})`), ', ')});
      if (c0 + j >= cEnd) { v = vec4<f32>(0.0); }
      xT[j * ${XS}u + i] = v;
    }
    ${stageUSlice(CC, W, R, N)}
    workgroupBarrier();
    for (var j = 0u; j < ${CC}u; j++) {
      let g4 = gT[j * ${GS}u + lid];
      let xlo = xT[j * ${XS}u + lid];
      let xhi = xT[j * ${XS}u + lid + 1u];
      ${each(
        W,
        (w) => `{
        ${each(4, (k) => `let d${k} = g4.${comps[k]} * ${xAt(k - w)} * m${k}_${w};`, '\n        ')}
        let ub0 = (j * ${W}u + ${w}u) * ${Q}u;
        ${each(Q, (q) => `{ let uv = uS[ub0 + ${q}u]; ${each(4, (k) => `acc${k}_${q} += d${k} * uv;`, ' ')} }`, '\n        ')}
      }`,
        '\n      ',
      )}
    }
    workgroupBarrier();
  }
  ${each(4, write, '\n  ')}
}`;
}
