import {
  checkedWorkgroupLayout,
  emulationBounds,
  emulationRounding,
  flt,
  matrixOps,
  PAD,
  PAD_F32,
  roundUp,
  type SgmatKernelBase,
  SUBGROUP,
  sgmatHeader,
  staging,
  storageBindings,
} from './causal-attention.sgmat-ops.js';
import { attentionUniforms } from './causal-attention.wgsl.js';

/**
 * Causal attention forward on tensor cores (`chromium_experimental_subgroup_matrix`),
 * the reduced-precision path: q, k, v (f32 or f16 storage) are rounded to f16
 * when staged into workgroup memory, S = Q·Kᵀ and O += P·V are f16 × f16 → f32
 * subgroup-matrix products, the online softmax stays f32. Same bindings,
 * uniforms and outputs as `attentionForwardWgsl` (o and the row logsumexp
 * the f32 backward kernels read).
 *
 * A workgroup owns `subgroups · sgRows` query rows, each subgroup `sgRows` of
 * them, and streams key tiles of `bk` rows. Subgroup matrices are opaque (no
 * per-element access), so row-wise softmax work goes through workgroup memory:
 * each subgroup stores its S block (f32), lanes own a row (sgRows 32) or half a
 * row (sgRows 16) and write P as f16 over the consumed K tile, which the P·V
 * product loads as left matrices. O stays in result matrices; it is rescaled
 * (stored, row-scaled, reloaded) only when some row's running max rises by
 * more than `tau`: the probabilities are taken against a max that may lag the
 * true one by up to `tau` (p ≤ e^tau, fine in f16 and f32), so after the first
 * tiles of a row the rescale is rare (lazy rescaling as in FlashAttention-4).
 * `tau = 0` rescales whenever a max rises (the classic online softmax).
 */
export interface SgmatAttentionLaunch {
  /** Subgroups (of 32 lanes) per workgroup. */
  readonly subgroups: number;
  /** Query rows per subgroup: 16 (two lanes per softmax row) or 32 (one lane per row). */
  readonly sgRows: 16 | 32;
  /** Keys per streamed tile (a multiple of 16). */
  readonly bk: number;
  /**
   * K staged `[d][key]` for row-major right loads (true), or `[key][d]` with
   * column-major right loads (on the H100 the matmul's column-major right
   * loads ran 2-6x slower, yet this forward was faster with them: see
   * SGMAT_LAUNCHES).
   */
  readonly kTransposed: boolean;
}

export interface SgmatAttentionParams extends SgmatAttentionLaunch, SgmatKernelBase {
  readonly docs: boolean;
  /** Lazy-rescale threshold in natural-log units (see above). */
  readonly tau: number;
  /** Grid `(B·H, blocks)`, last (heaviest) query blocks first; else `(blocks, B·H)`. */
  readonly heavyFirst: boolean;
}

/** Workgroup-memory layout (element counts and leading dimensions) of the kernel. */
export function sgmatAttentionLayout(p: SgmatAttentionParams) {
  const bq = p.subgroups * p.sgRows;
  const dhp = roundUp(p.dh, 16); // head dim padded with zeros to whole matrices
  const ldq = dhp + PAD;
  const ldk = p.kTransposed ? p.bk + PAD : dhp + PAD;
  const kSize = p.kTransposed ? dhp * ldk : p.bk * ldk;
  const ldp = p.bk + PAD;
  const ldv = dhp + PAD;
  const lds = Math.max(p.bk, dhp) + PAD_F32; // holds S, and O when it is rescaled or written out
  const lpr = SUBGROUP / p.sgRows; // lanes per softmax row
  const halves = bq * ldq + Math.max(kSize, bq * ldp) + p.bk * ldv;
  const floats = bq * lds + bq * lpr + bq + 4;
  return {
    bq,
    dhp,
    ldq,
    ldk,
    ldp,
    ldv,
    lds,
    lpr,
    kpSize: Math.max(kSize, bq * ldp),
    bytes: halves * (p.emulate ? 4 : 2) + floats * 4,
  };
}

/** Why these parameters cannot make a kernel, or null. */
export function sgmatAttentionInvalid(p: SgmatAttentionParams): string | null {
  const { m, n, k } = p.shape;
  if (m !== 16 || ![8, 16].includes(n) || ![8, 16].includes(k)) return `shape ${m}x${n}x${k} unsupported`;
  if (p.bk % 16 !== 0 || p.bk < 16) return `bk ${p.bk} is not a multiple of 16`;
  if (p.sgRows !== 16 && p.sgRows !== 32) return `sgRows ${p.sgRows} is not 16 or 32`;
  if (p.subgroups < 1) return 'no subgroups';
  return null;
}

/** Bytes of workgroup memory the kernel declares. */
export const sgmatAttentionBytes = (p: SgmatAttentionParams): number => sgmatAttentionLayout(p).bytes;

export const sgmatAttentionThreads = (p: SgmatAttentionLaunch): number => p.subgroups * SUBGROUP;

/** Query rows per workgroup. */
export const sgmatAttentionRows = (p: SgmatAttentionLaunch): number => p.subgroups * p.sgRows;

export const sgmatAttentionKey = (p: SgmatAttentionParams): string =>
  `causalAttention.fwd|sgmat|${p.dtype}|dh=${p.dh}|docs=${p.docs ? 1 : 0}|sg=${p.subgroups}x${p.sgRows}|bk=${p.bk}` +
  `|kT=${p.kTransposed ? 1 : 0}|tau=${p.tau}|${p.shape.m}x${p.shape.n}x${p.shape.k}|heavy=${p.heavyFirst ? 1 : 0}` +
  `|${p.emulate ? 'emulated' : `${p.syntax.builtins},${p.syntax.diagnostic}`}`;

/** Workgroup grid `[x, y]` for `rows` query rows of `heads` (batch, head) pairs. */
export const sgmatAttentionGrid = (
  p: SgmatAttentionParams,
  rows: number,
  heads: number,
): [number, number] => {
  const blocks = Math.ceil(rows / sgmatAttentionRows(p));
  return p.heavyFirst ? [heads, blocks] : [blocks, heads];
};

/**
 * The forward kernel: o `[B, H, Tq, dh]` and lse `[B, H, Tq]` (f32), bindings
 * q, k, v, (docStart), o, lse. Grid: `sgmatAttentionGrid`.
 */
export function sgmatAttentionForwardWgsl(p: SgmatAttentionParams): string {
  const invalid = sgmatAttentionInvalid(p);
  if (invalid) throw new RangeError(`sgmat attention: ${invalid}`);
  const { m, n, k } = p.shape;
  const lay = sgmatAttentionLayout(p);
  const { bq, dhp, ldq, ldk, ldp, ldv, lds, lpr } = lay;
  const nt = sgmatAttentionThreads(p);
  const el = p.emulate ? 'f32' : 'f16';
  const mx = matrixOps(p);
  const rowTiles = p.sgRows / m; // result-matrix rows of a subgroup
  const keyTiles = p.bk / n; // S result matrices along keys
  const dimTiles = dhp / n; // O result matrices along the head dim
  const cpl = p.bk / lpr; // softmax columns per lane
  const range = (len: number) => Array.from({ length: len }, (_, i) => i);
  const rowOff = (i: number, ld: number) => `(sg * ${p.sgRows}u + ${i * m}u) * ${ld}u`;

  const sp = { ...p, threads: nt };
  const kT = staging(sp, 'xk', 'kS', 'kb', p.bk, 'nk0', 'u.Tk', 'kvh * u.Tk', p.kTransposed, ldk);
  const vT = staging(sp, 'xv', 'vS', 'vb', p.bk, 'nk0', 'u.Tk', 'kvh * u.Tk', false, ldv);
  const qT = staging(sp, 'xq', 'qS', 'qb', bq, 'q0', 'u.Tq', 'bh * u.Tq', false, ldq);

  // Q's left operands, loaded once (they stay in registers across key tiles).
  const qOps = range(rowTiles).map((i) =>
    range(dhp / k).map((kk) =>
      mx.operand('left', `qL${i}_${kk}`, 'qS', `${rowOff(i, ldq)} + ${kk * k}u`, ldq, false),
    ),
  );
  // S = Q·Kᵀ: right operand (d, key) is kS[d][key] (row-major) or kS[key][d] (column-major).
  const scores: string[] = [];
  for (const i of range(rowTiles)) for (const j of range(keyTiles)) scores.push(mx.zero(`s${i}_${j}`));
  for (const kk of range(dhp / k))
    for (const j of range(keyTiles)) {
      const off = p.kTransposed ? `${kk * k * ldk + j * n}u` : `${j * n * ldk + kk * k}u`;
      const b = mx.operand('right', `kR${kk}_${j}`, 'kS', off, ldk, !p.kTransposed);
      scores.push(`{ ${b.code}`);
      for (const i of range(rowTiles)) scores.push(`  ${mx.mma(`s${i}_${j}`, qOps[i]![kk]!.op, b.op)}`);
      scores.push('}');
    }
  for (const i of range(rowTiles))
    for (const j of range(keyTiles))
      scores.push(mx.store(`s${i}_${j}`, 'sS', `${rowOff(i, lds)} + ${j * n}u`, lds));
  // O += P·V, P `[row][key]` over the consumed K tile, V `[key][d]`.
  const pv: string[] = [];
  for (const kk of range(p.bk / k)) {
    pv.push('{');
    const a = range(rowTiles).map((i) =>
      mx.operand('left', `pL${i}`, 'kS', `${rowOff(i, ldp)} + ${kk * k}u`, ldp, false),
    );
    for (const x of a) pv.push(`  ${x.code}`);
    for (const j of range(dimTiles)) {
      const b = mx.operand('right', `vR${j}`, 'vS', `${kk * k * ldv + j * n}u`, ldv, false);
      pv.push(`  { ${b.code}`);
      for (const i of range(rowTiles)) pv.push(`    ${mx.mma(`o${i}_${j}`, a[i]!.op, b.op)}`);
      pv.push('  }');
    }
    pv.push('}');
  }
  const oDecl = range(rowTiles).flatMap((i) => range(dimTiles).map((j) => mx.zero(`o${i}_${j}`)));
  const oStore = range(rowTiles).flatMap((i) =>
    range(dimTiles).map((j) => mx.store(`o${i}_${j}`, 'sS', `${rowOff(i, lds)} + ${j * n}u`, lds)),
  );
  const oLoad = range(rowTiles).flatMap((i) =>
    range(dimTiles).map((j) => mx.loadResult(`o${i}_${j}`, 'sS', `${rowOff(i, lds)} + ${j * n}u`, lds)),
  );
  // Row values across the lanes of a row (lpr 2): through `red`.
  const combine = (v: string, name: string, op: 'max' | 'sum') =>
    lpr === 1
      ? `let ${name} = ${v};`
      : `red[row * 2u + part] = ${v};
    workgroupBarrier();
    let ${name} = ${op === 'max' ? 'max(red[row * 2u], red[row * 2u + 1u])' : 'red[row * 2u] + red[row * 2u + 1u]'};`;
  // The lane's columns of the tile, rotated by the row so the lanes of a warp hit different banks.
  const column = `let col = part * ${cpl}u + (c + row + part * 16u) % ${cpl}u;
      let key = k0 + col;
      let s = sS[row * ${lds}u + col] * u.scale;
      let ok = key <= pos && key >= first && key < u.Tk;`;
  const vecOut = p.dh % 4 === 0;
  const bindings: [string, string, boolean][] = [
    ['qb', vecOut ? `vec4<${p.dtype}>` : p.dtype, false],
    ['kb', vecOut ? `vec4<${p.dtype}>` : p.dtype, false],
    ['vb', vecOut ? `vec4<${p.dtype}>` : p.dtype, false],
    ...(p.docs ? [['db', 'i32', false] as [string, string, boolean]] : []),
    ['ob', vecOut ? `vec4<${p.dtype}>` : p.dtype, true],
    ['lse', 'f32', true],
  ];
  const writeOut = vecOut
    ? `for (var e = lid; e < ${bq * (p.dh / 4)}u; e += ${nt}u) {
    let r = e / ${p.dh / 4}u;
    let c = e % ${p.dh / 4}u;
    if (q0 + r < u.Tq) {
      let at = r * ${lds}u + c * 4u;
      ob[(bh * u.Tq + q0 + r) * ${p.dh / 4}u + c] = vec4<${p.dtype}>(vec4<f32>(sS[at], sS[at + 1u], sS[at + 2u], sS[at + 3u]) * rowScale[r]);
    }
  }`
    : `for (var e = lid; e < ${bq * p.dh}u; e += ${nt}u) {
    let r = e / DH;
    let c = e % DH;
    if (q0 + r < u.Tq) { ob[(bh * u.Tq + q0 + r) * DH + c] = ${p.dtype}(sS[r * ${lds}u + c] * rowScale[r]); }
  }`;
  return checkedWorkgroupLayout(`${sgmatHeader(p)}
${attentionUniforms.wgsl}
${storageBindings(bindings)}
const DH = ${p.dh}u;
var<workgroup> qS: array<${el}, ${bq * ldq}>;
/** The K tile, then (once the scores are taken) P. */
var<workgroup> kS: array<${el}, ${lay.kpSize}>;
var<workgroup> vS: array<${el}, ${p.bk * ldv}>;
/** Scores of the tile (f32), and O when it is rescaled or written out. */
var<workgroup> sS: array<f32, ${bq * lds}>;
var<workgroup> red: array<f32, ${bq * lpr}>;
/** Per row: the rescale factor of O, then 1 / l for the output. */
var<workgroup> rowScale: array<f32, ${bq}>;
/**
 * x: set when some row's max rose by more than tau this tile (O must be rescaled).
 * A vec4, not a u32: see WORKGROUP_ALIGN.
 */
var<workgroup> rescale: vec4<u32>;
${emulationRounding(p)}

@compute @workgroup_size(${nt})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let bh = ${p.heavyFirst ? 'wid.x' : 'wid.y'};
  let b = bh / u.H;
  let h = bh % u.H;
  let kvh = b * u.Hkv + h / u.group;
  let sg = lid / ${SUBGROUP}u;
  let lane = lid % ${SUBGROUP}u;
  ${emulationBounds(p)}
  let q0 = ${p.heavyFirst ? '(nwg.y - 1u - wid.y)' : 'wid.x'} * ${bq}u;
  {
    ${qT.decl}
    ${qT.load}
    ${qT.store}
  }
  // The lane's softmax row (within the block) and its part of the columns.
  let row = sg * ${p.sgRows}u + lane % ${p.sgRows}u;
  let part = lane / ${p.sgRows}u;
  let qi = min(q0 + row, u.Tq - 1u);
  let pos = u.kvOffset + qi;
  let first = ${p.docs ? 'u32(max(db[b * u.Tq + qi], 0))' : '0u'};
  var m = -3.0e38; // the max the probabilities are taken against (raised lazily)
  var l = 0.0; // this lane's part of the row sum
  ${oDecl.join('\n  ')}
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${bq}u, u.Tq));
  ${kT.decl} ${vT.decl}
  { let nk0 = 0u;
    ${kT.load}
    ${vT.load}
  }
  workgroupBarrier();
  ${qOps
    .flat()
    .map((o) => o.code)
    .join('\n  ')}
  for (var k0 = 0u; k0 < kEnd; k0 += ${p.bk}u) {
    workgroupBarrier();
    ${kT.store}
    ${vT.store}
    if (lid == 0u) { rescale.x = 0u; }
    workgroupBarrier();
    if (k0 + ${p.bk}u < kEnd) {
      let nk0 = k0 + ${p.bk}u;
      ${kT.load}
      ${vT.load}
    }
    ${scores.join('\n    ')}
    workgroupBarrier();
    var tmax = -3.0e38;
    for (var c = 0u; c < ${cpl}u; c++) {
      ${column}
      tmax = select(tmax, max(tmax, s), ok);
    }
    ${combine('tmax', 'tileMax', 'max')}
    var corr = 1.0;
    if (tileMax > m + ${flt(p.tau)}) {
      corr = exp(m - tileMax);
      if (m > -1.0e38) { rescale.x = 1u; } // rows seen before hold O to rescale
      m = tileMax;
    }
    l *= corr;
    if (part == 0u) { rowScale[row] = corr; }
    for (var c = 0u; c < ${cpl}u; c++) {
      ${column}
      let pv = select(0.0, exp(s - m), ok);
      l += pv;
      kS[row * ${ldp}u + col] = ${p.emulate ? 'h16s(pv)' : 'f16(pv)'};
    }
    // (A barrier before and after the load: P and rowScale are visible past it.)
    if (workgroupUniformLoad(&rescale).x != 0u) {
      ${oStore.join('\n      ')}
      workgroupBarrier();
      let f = rowScale[row];
      for (var c = 0u; c < ${dhp / lpr}u; c++) { sS[row * ${lds}u + part * ${dhp / lpr}u + c] *= f; }
      workgroupBarrier();
      ${oLoad.join('\n      ')}
    }
    ${pv.join('\n    ')}
  }
  ${combine('l', 'lRow', 'sum')}
  ${oStore.join('\n  ')}
  if (part == 0u) {
    rowScale[row] = 1.0 / lRow;
    if (q0 + row < u.Tq) { lse[bh * u.Tq + q0 + row] = m + log(lRow); }
  }
  workgroupBarrier();
  ${writeOut}
}`);
}
