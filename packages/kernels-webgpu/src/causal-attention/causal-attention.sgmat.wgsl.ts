import {
  type Binding,
  docStartBinding,
  keyTileStream,
  laneColumn,
  laneRow,
  mainOpening,
  moduleHead,
  rowCombine,
  rowElement,
  stageOnce,
  writeRows,
} from './causal-attention.sgmat-frame.js';
import {
  type SgmatCommonParams,
  type SgmatLaunchBase,
  sgmatBlockLayout,
  sgmatKey,
  sgmatLaunchInvalid,
  sgmatThreads,
} from './causal-attention.sgmat-launch.js';
import {
  checkedWorkgroupLayout,
  flt,
  keyTileStaging,
  PAD,
  queryTileStaging,
  range,
  rowTileOps,
} from './causal-attention.sgmat-ops.js';

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
export interface SgmatAttentionLaunch extends SgmatLaunchBase {
  /**
   * K staged `[d][key]` for row-major right loads (true), or `[key][d]` with
   * column-major right loads (on the H100 the matmul's column-major right
   * loads ran 2-6x slower, yet this forward was faster with them: see
   * SGMAT_LAUNCHES).
   */
  readonly kTransposed: boolean;
}

export interface SgmatAttentionParams extends SgmatAttentionLaunch, SgmatCommonParams {
  /** Lazy-rescale threshold in natural-log units (see above). */
  readonly tau: number;
}

/** Workgroup-memory layout (element counts and leading dimensions) of the kernel. */
export function sgmatAttentionLayout(p: SgmatAttentionParams) {
  const { bq, dhp, ldq, lds, lpr } = sgmatBlockLayout(p); // lds holds S, and O when it is rescaled or written out
  const ldk = p.kTransposed ? p.bk + PAD : dhp + PAD;
  const kSize = p.kTransposed ? dhp * ldk : p.bk * ldk;
  const ldp = p.bk + PAD;
  const ldv = dhp + PAD;
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

/** Bytes of workgroup memory the kernel declares. */
export const sgmatAttentionBytes = (p: SgmatAttentionParams): number => sgmatAttentionLayout(p).bytes;

export const sgmatAttentionKey = (p: SgmatAttentionParams): string =>
  sgmatKey('fwd', p, `|kT=${p.kTransposed ? 1 : 0}|tau=${p.tau}`);

/**
 * The forward kernel: o `[B, H, Tq, dh]` and lse `[B, H, Tq]` (f32), bindings
 * q, k, v, (docStart), o, lse. Grid: `sgmatGrid`.
 */
export function sgmatAttentionForwardWgsl(p: SgmatAttentionParams): string {
  const invalid = sgmatLaunchInvalid(p);
  if (invalid) throw new RangeError(`sgmat attention: ${invalid}`);
  const { n, k } = p.shape;
  const lay = sgmatAttentionLayout(p);
  const { bq, dhp, ldq, ldk, ldp, ldv, lds, lpr } = lay;
  const el = p.emulate ? 'f32' : 'f16';
  const ops = rowTileOps(p);
  const keyTiles = p.bk / n; // S result matrices along keys
  const dimTiles = dhp / n; // O result matrices along the head dim
  const cpl = p.bk / lpr; // softmax columns per lane

  const sp = { ...p, threads: sgmatThreads(p) };
  const kT = keyTileStaging(sp, 'xk', 'kS', 'kb', p.kTransposed, ldk);
  const vT = keyTileStaging(sp, 'xv', 'vS', 'vb', false, ldv);
  const qT = queryTileStaging(sp, 'xq', 'qS', 'qb', bq, ldq);
  const stream = keyTileStream(p, [kT, vT]);

  // Q's left operands, loaded once (they stay in registers across key tiles).
  const qOps = ops.heldLeft('qL', 'qS', ldq, dhp / k);
  // S = Q·Kᵀ: right operand (d, key) is kS[d][key] (row-major) or kS[key][d] (column-major).
  const scores: string[] = ops.zeros('s', keyTiles);
  for (const kk of range(dhp / k))
    for (const j of range(keyTiles)) {
      const b = ops.right(`kR${kk}_${j}`, 'kS', kk, j, ldk, !p.kTransposed);
      scores.push(`{ ${b.code}`);
      for (const i of range(ops.rowTiles))
        scores.push(`  ${ops.mx.mma(`s${i}_${j}`, qOps[i]![kk]!.op, b.op)}`);
      scores.push('}');
    }
  scores.push(...ops.store('s', keyTiles, 'sS', lds));
  // O += P·V, P `[row][key]` over the consumed K tile, V `[key][d]`.
  const pv = ops.product(
    'o',
    dimTiles,
    p.bk / k,
    (i, kk) => ops.left(`pL${i}`, 'kS', i, kk, ldp),
    (kk, j) => ops.right(`vR${j}`, 'vS', kk, j, ldv, false),
  );
  const oStore = ops.store('o', dimTiles, 'sS', lds);
  const oLoad = ops.load('o', dimTiles, 'sS', lds);
  // The lane's columns of the tile with their scores and visibility.
  const column = `${laneColumn(cpl)}
      let key = k0 + col;
      let s = sS[row * ${lds}u + col] * u.scale;
      let ok = key <= pos && key >= first && key < u.Tk;`;
  const elem = rowElement(p);
  const bindings: Binding[] = [
    ['qb', elem, false],
    ['kb', elem, false],
    ['vb', elem, false],
    ...docStartBinding(p),
    ['ob', elem, true],
    ['lse', 'f32', true],
  ];
  return checkedWorkgroupLayout(`${moduleHead(p, bindings)}
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
${mainOpening(p)}
  ${stageOnce([qT])}
  // The lane's softmax row (within the block) and its part of the columns.
  ${laneRow(p)}
  var m = -3.0e38; // the max the probabilities are taken against (raised lazily)
  var l = 0.0; // this lane's part of the row sum
  ${ops.zeros('o', dimTiles).join('\n  ')}
  ${stream.begin}
  workgroupBarrier();
  ${qOps
    .flat()
    .map((o) => o.code)
    .join('\n  ')}
  for (var k0 = 0u; k0 < kEnd; k0 += ${p.bk}u) {
    workgroupBarrier();
    ${stream.store}
    if (lid == 0u) { rescale.x = 0u; }
    workgroupBarrier();
    ${stream.prefetch}
    ${scores.join('\n    ')}
    workgroupBarrier();
    var tmax = -3.0e38;
    for (var c = 0u; c < ${cpl}u; c++) {
      ${column}
      tmax = select(tmax, max(tmax, s), ok);
    }
    ${rowCombine(p, 'tmax', 'tileMax', 'max', '    ')}
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
  ${rowCombine(p, 'l', 'lRow', 'sum', '    ')}
  ${oStore.join('\n  ')}
  if (part == 0u) {
    rowScale[row] = 1.0 / lRow;
    if (q0 + row < u.Tq) { lse[bh * u.Tq + q0 + row] = m + log(lRow); }
  }
  workgroupBarrier();
  ${writeRows(p, lds, 'ob', 'rowScale[r]')}
}`);
}
