import { attentionUniforms } from './causal-attention.wgsl.js';

/**
 * The row-wise form of the fused causal attention (the kernels before the
 * register-tiled ones of causal-attention.wgsl.ts; same bindings, uniforms
 * and results within float rounding). It runs where the register-tiled
 * kernels do not: in Chromium's SwiftShader the first training step with
 * them never completed (the device was lost after ~110 s; root cause not
 * found), see `attentionPlan`.
 *
 * f32 arithmetic (FlashAttention-2 structure on SIMT
 * threads): one thread per query (forward, dq) or per key (dk/dv), key or
 * query tiles staged in shared memory and read as broadcasts; O(T) memory.
 * The forward keeps a running max and sum (online softmax) and saves the
 * row logsumexp; the backward recomputes probabilities from it:
 * `p = exp(s - lse)`, `ds = p (dO·v - Δ)`, `Δ = dO·O`.
 * Query i sits at key position `kvOffset + i` and sees keys
 * `docStart[b, i] ..= kvOffset + i`. GQA: query head h reads kv head h / group.
 */
export interface RowwiseAttentionParams {
  readonly dtype: 'f32' | 'f16';
  /** Head dimension (register arrays are sized by it). */
  readonly dh: number;
  readonly docs: boolean;
  /** Threads per workgroup: queries (forward, dq) or keys (dk/dv). */
  readonly rows: number;
  /** Rows of the other side staged per tile. */
  readonly tile: number;
}

/** Tile rows so that the staged tiles stay within 16 KiB. */
export const rowwiseAttentionTile = (dh: number): number => Math.max(1, Math.min(64, Math.floor(2048 / dh)));

export const rowwiseAttentionKey = (stage: 'fwd' | 'dq' | 'dkdv', p: RowwiseAttentionParams): string =>
  `causalAttention.rowwise.${stage}|${p.dtype}|dh=${p.dh}|docs=${p.docs ? 1 : 0}|rows=${p.rows}|tile=${p.tile}`;

const head = (p: RowwiseAttentionParams, bindings: readonly (readonly [string, string, boolean])[]): string =>
  `${p.dtype === 'f16' ? 'enable f16;\n' : ''}${attentionUniforms.wgsl}
${bindings
  .filter(([n]) => n !== 'db' || p.docs)
  .map(
    ([n, t, w], i) =>
      `@group(0) @binding(${i + 1}) var<storage, ${w ? 'read_write' : 'read'}> ${n}: array<${t}>;`,
  )
  .join('\n')}
const DH = ${p.dh}u;`;

/** Forward: o `[B, H, Tq, dh]` and lse `[B, H, Tq]` (f32). Grid: (query blocks, B*H). */
export function rowwiseAttentionForwardWgsl(p: RowwiseAttentionParams): string {
  const T = p.dtype;
  const BQ = p.rows;
  const BK = p.tile;
  return `${head(p, [
    ['qb', T, false],
    ['kb', T, false],
    ['vb', T, false],
    ['db', 'i32', false],
    ['ob', T, true],
    ['lse', 'f32', true],
  ])}
var<workgroup> kS: array<f32, ${BK * p.dh}>;
var<workgroup> vS: array<f32, ${BK * p.dh}>;

@compute @workgroup_size(${BQ})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;
  let b = bh / u.H;
  let h = bh % u.H;
  let kvh = b * u.Hkv + h / u.group;
  let q0 = wid.x * ${BQ}u;
  let i = q0 + lid;
  let live = i < u.Tq;
  let qRow = (bh * u.Tq + min(i, u.Tq - 1u)) * DH;
  var qr: array<f32, ${p.dh}>;
  var acc: array<f32, ${p.dh}>;
  for (var d = 0u; d < DH; d++) { qr[d] = f32(qb[qRow + d]) * u.scale; acc[d] = 0.0; }
  let pos = u.kvOffset + min(i, u.Tq - 1u);
  let first = ${p.docs ? 'u32(max(db[b * u.Tq + min(i, u.Tq - 1u)], 0))' : '0u'};
  var m = -3.0e38;
  var l = 0.0;
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${BQ}u, u.Tq));
  for (var k0 = 0u; k0 < kEnd; k0 += ${BK}u) {
    for (var e = lid; e < ${BK}u * DH; e += ${BQ}u) {
      let j = k0 + e / DH;
      var kv = 0.0; var vv = 0.0;
      if (j < u.Tk) { let at = (kvh * u.Tk + j) * DH + e % DH; kv = f32(kb[at]); vv = f32(vb[at]); }
      kS[e] = kv; vS[e] = vv;
    }
    workgroupBarrier();
    if (live) {
      for (var jj = 0u; jj < ${BK}u; jj++) {
        let j = k0 + jj;
        if (j > pos || j < first || j >= u.Tk) { continue; }
        var s = 0.0;
        for (var d = 0u; d < DH; d++) { s += qr[d] * kS[jj * DH + d]; }
        let mNew = max(m, s);
        let corr = exp(m - mNew);
        let pj = exp(s - mNew);
        l = l * corr + pj;
        for (var d = 0u; d < DH; d++) { acc[d] = acc[d] * corr + pj * vS[jj * DH + d]; }
        m = mNew;
      }
    }
    workgroupBarrier();
  }
  if (live) {
    let inv = 1.0 / l;
    for (var d = 0u; d < DH; d++) { ob[qRow + d] = ${T}(acc[d] * inv); }
    lse[bh * u.Tq + i] = m + log(l);
  }
}`;
}

/** dq `[B, H, Tq, dh]` and Δ = rowsum(dO ∘ O) `[B, H, Tq]` (f32). Grid: (query blocks, B*H). */
export function rowwiseAttentionQueryGradWgsl(p: RowwiseAttentionParams): string {
  const T = p.dtype;
  const BQ = p.rows;
  const BK = p.tile;
  return `${head(p, [
    ['qb', T, false],
    ['kb', T, false],
    ['vb', T, false],
    ['ob', T, false],
    ['gb', T, false],
    ['lse', 'f32', false],
    ['db', 'i32', false],
    ['dqb', T, true],
    ['delta', 'f32', true],
  ])}
var<workgroup> kS: array<f32, ${BK * p.dh}>;
var<workgroup> vS: array<f32, ${BK * p.dh}>;

@compute @workgroup_size(${BQ})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;
  let b = bh / u.H;
  let h = bh % u.H;
  let kvh = b * u.Hkv + h / u.group;
  let q0 = wid.x * ${BQ}u;
  let i = q0 + lid;
  let live = i < u.Tq;
  let ic = min(i, u.Tq - 1u);
  let qRow = (bh * u.Tq + ic) * DH;
  var qr: array<f32, ${p.dh}>;
  var gr: array<f32, ${p.dh}>;
  var dq: array<f32, ${p.dh}>;
  var dl = 0.0;
  for (var d = 0u; d < DH; d++) {
    qr[d] = f32(qb[qRow + d]) * u.scale;
    gr[d] = f32(gb[qRow + d]);
    dl += gr[d] * f32(ob[qRow + d]);
    dq[d] = 0.0;
  }
  let rowLse = lse[bh * u.Tq + ic];
  let pos = u.kvOffset + ic;
  let first = ${p.docs ? 'u32(max(db[b * u.Tq + ic], 0))' : '0u'};
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${BQ}u, u.Tq));
  for (var k0 = 0u; k0 < kEnd; k0 += ${BK}u) {
    for (var e = lid; e < ${BK}u * DH; e += ${BQ}u) {
      let j = k0 + e / DH;
      var kv = 0.0; var vv = 0.0;
      if (j < u.Tk) { let at = (kvh * u.Tk + j) * DH + e % DH; kv = f32(kb[at]); vv = f32(vb[at]); }
      kS[e] = kv; vS[e] = vv;
    }
    workgroupBarrier();
    if (live) {
      for (var jj = 0u; jj < ${BK}u; jj++) {
        let j = k0 + jj;
        if (j > pos || j < first || j >= u.Tk) { continue; }
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < DH; d++) { s += qr[d] * kS[jj * DH + d]; dp += gr[d] * vS[jj * DH + d]; }
        let ds = exp(s - rowLse) * (dp - dl);
        for (var d = 0u; d < DH; d++) { dq[d] += ds * kS[jj * DH + d]; }
      }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var d = 0u; d < DH; d++) { dqb[qRow + d] = ${T}(dq[d] * u.scale); }
    delta[bh * u.Tq + i] = dl;
  }
}`;
}

/**
 * dk, dv `[B, Hkv, Tk, dh]`: one thread per key sums over the group's query
 * heads and the queries that see it (deterministic order, no atomics).
 * Grid: (key blocks, B*Hkv).
 */
export function rowwiseAttentionKeyGradWgsl(p: RowwiseAttentionParams): string {
  const T = p.dtype;
  const BK = p.rows;
  const BQ = p.tile;
  return `${head(p, [
    ['qb', T, false],
    ['kb', T, false],
    ['vb', T, false],
    ['gb', T, false],
    ['lse', 'f32', false],
    ['delta', 'f32', false],
    ['db', 'i32', false],
    ['dkb', T, true],
    ['dvb', T, true],
  ])}
var<workgroup> qS: array<f32, ${BQ * p.dh}>;
var<workgroup> gS: array<f32, ${BQ * p.dh}>;
var<workgroup> lS: array<f32, ${BQ}>;
var<workgroup> dS: array<f32, ${BQ}>;
var<workgroup> fS: array<u32, ${BQ}>;

@compute @workgroup_size(${BK})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let bkv = wid.y;
  let b = bkv / u.Hkv;
  let hk = bkv % u.Hkv;
  let j0 = wid.x * ${BK}u;
  let j = j0 + lid;
  let live = j < u.Tk;
  let kRow = (bkv * u.Tk + min(j, u.Tk - 1u)) * DH;
  var kr: array<f32, ${p.dh}>;
  var vr: array<f32, ${p.dh}>;
  var dk: array<f32, ${p.dh}>;
  var dv: array<f32, ${p.dh}>;
  for (var d = 0u; d < DH; d++) { kr[d] = f32(kb[kRow + d]); vr[d] = f32(vb[kRow + d]); dk[d] = 0.0; dv[d] = 0.0; }
  // Queries that can see key j0 or later: kvOffset + i >= j0.
  let iStart = select(0u, j0 - u.kvOffset, j0 > u.kvOffset);
  for (var g = 0u; g < u.group; g++) {
    let bh = b * u.H + hk * u.group + g;
    for (var i0 = iStart - iStart % ${BQ}u; i0 < u.Tq; i0 += ${BQ}u) {
      for (var e = lid; e < ${BQ}u * DH; e += ${BK}u) {
        let i = i0 + e / DH;
        var qv = 0.0; var gv = 0.0;
        if (i < u.Tq) { let at = (bh * u.Tq + i) * DH + e % DH; qv = f32(qb[at]) * u.scale; gv = f32(gb[at]); }
        qS[e] = qv; gS[e] = gv;
      }
      for (var e = lid; e < ${BQ}u; e += ${BK}u) {
        let i = min(i0 + e, u.Tq - 1u);
        lS[e] = lse[bh * u.Tq + i];
        dS[e] = delta[bh * u.Tq + i];
        fS[e] = ${p.docs ? 'u32(max(db[b * u.Tq + i], 0))' : '0u'};
      }
      workgroupBarrier();
      if (live) {
        for (var ii = 0u; ii < ${BQ}u; ii++) {
          let i = i0 + ii;
          if (i >= u.Tq || j > u.kvOffset + i || j < fS[ii]) { continue; }
          var s = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < DH; d++) { s += qS[ii * DH + d] * kr[d]; dp += gS[ii * DH + d] * vr[d]; }
          let pij = exp(s - lS[ii]);
          let ds = pij * (dp - dS[ii]);
          for (var d = 0u; d < DH; d++) { dv[d] += pij * gS[ii * DH + d]; dk[d] += ds * qS[ii * DH + d]; }
        }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    for (var d = 0u; d < DH; d++) { dkb[kRow + d] = ${T}(dk[d]); dvb[kRow + d] = ${T}(dv[d]); }
  }
}`;
}
