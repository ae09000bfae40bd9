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
  keyTileStaging,
  type LoadedOperand,
  PAD,
  queryTileStaging,
  rowTileOps,
} from './causal-attention.sgmat-ops.js';

/**
 * The attention dq kernel on tensor cores (reduced precision), the
 * subgroup-matrix counterpart of `attentionQueryGradWgsl` with the same
 * bindings, uniforms and outputs: dq `[B, H, Tq, dh]` and Δ = rowsum(dO ∘ O)
 * `[B, H, Tq]` (f32, exact: from the stored f32 o and dO). Per key tile:
 * S = Q·Kᵀ and dP = dO·Vᵀ as f16 × f16 → f32 products, P = exp(S - lse)
 * and dS = P ∘ (dP - Δ) in f32 through workgroup memory (rounded to f16 for
 * the product), dq += dS·K. A workgroup owns `subgroups · sgRows` query rows;
 * Q and dO are staged once and held as left operands.
 */
export interface SgmatQueryGradLaunch extends SgmatLaunchBase {
  /**
   * Stage a `[d][key]` copy of K and V `[d][key]` (row-major right loads for
   * S and dP), else read K and V `[key][d]` column-major.
   */
  readonly transposed: boolean;
}

export interface SgmatQueryGradParams extends SgmatQueryGradLaunch, SgmatCommonParams {}

/** Workgroup-memory layout (element counts, leading dimensions) of the dq kernel. */
export function sgmatQueryGradLayout(p: SgmatQueryGradParams) {
  const { bq, dhp, ldq, lds, lpr } = sgmatBlockLayout(p); // ldq: qS, gS `[row][d]`; lds: S, dP, and dq at the end
  const ldk = dhp + PAD; // kS `[key][d]`
  const ldt = p.bk + PAD; // kT `[d][key]`, vS transposed
  const ldv = p.transposed ? ldt : dhp + PAD;
  const ldp = p.bk + PAD; // dS `[row][key]`
  const halves = 2 * bq * ldq + p.bk * ldk + (p.transposed ? 2 * dhp * ldt : p.bk * ldv) + bq * ldp;
  const floats = bq * lds + bq * lpr;
  return { bq, dhp, ldq, ldk, ldt, ldv, ldp, lds, lpr, bytes: halves * (p.emulate ? 4 : 2) + floats * 4 };
}

export const sgmatQueryGradBytes = (p: SgmatQueryGradParams): number => sgmatQueryGradLayout(p).bytes;

export const sgmatQueryGradKey = (p: SgmatQueryGradParams): string =>
  sgmatKey('dq', p, `|T=${p.transposed ? 1 : 0}`);

/** dq and Δ; bindings q, k, v, o, dO, lse, (docStart), dq, Δ. Grid: `sgmatGrid`. */
export function sgmatQueryGradWgsl(p: SgmatQueryGradParams): string {
  const invalid = sgmatLaunchInvalid(p);
  if (invalid) throw new RangeError(`sgmat attention dq: ${invalid}`);
  const { n, k } = p.shape;
  const { bq, dhp, ldq, ldk, ldt, ldv, ldp, lds, lpr } = sgmatQueryGradLayout(p);
  const el = p.emulate ? 'f32' : 'f16';
  const round = (x: string) => (p.emulate ? `h16s(${x})` : `f16(${x})`);
  const ops = rowTileOps(p);
  const keyTiles = p.bk / n;
  const dimTiles = dhp / n;
  const cpl = p.bk / lpr;
  const sp = { ...p, threads: sgmatThreads(p) };
  const kN = keyTileStaging(sp, 'xk', 'kS', 'kb', false, ldk);
  const kT = keyTileStaging(sp, 'xt', 'kT', 'kb', true, ldt);
  const vT = keyTileStaging(sp, 'xv', 'vS', 'vb', p.transposed, ldv);
  const stream = keyTileStream(p, p.transposed ? [kN, kT, vT] : [kN, vT]);
  const qT = queryTileStaging(sp, 'xq', 'qS', 'qb', bq, ldq);
  const gT = queryTileStaging(sp, 'xg', 'gS', 'gb', bq, ldq);

  // Q and dO as left operands, loaded once (no code at the use).
  const qOps = ops.heldLeft('qL', 'qS', ldq, dhp / k);
  const gOps = ops.heldLeft('gL', 'gS', ldq, dhp / k);
  /** `acc = held · right` over the head dim (a key tile's columns), stored to the f32 tile. */
  const keyTileProduct = (
    acc: string,
    held: LoadedOperand[][],
    right: (kk: number, j: number) => LoadedOperand,
  ) => [
    ...ops.zeros(acc, keyTiles),
    ...ops.product(acc, keyTiles, dhp / k, (i, kk) => ({ code: '', op: held[i]![kk]!.op }), right),
    ...ops.store(acc, keyTiles, 'sS', lds),
  ];
  // S = Q·Kᵀ and dP = dO·Vᵀ: right operand (d, key) from `[d][key]` row-major or `[key][d]` column-major.
  const scores = keyTileProduct('s', qOps, (kk, j) =>
    p.transposed ? ops.right(`kR${j}`, 'kT', kk, j, ldt, false) : ops.right(`kR${j}`, 'kS', kk, j, ldk, true),
  );
  const dP = keyTileProduct('dp', gOps, (kk, j) => ops.right(`vR${j}`, 'vS', kk, j, ldv, !p.transposed));
  const dqProduct = ops.product(
    'dq',
    dimTiles,
    p.bk / k,
    (i, kk) => ops.left(`dsL${i}`, 'dS', i, kk, ldp),
    (kk, j) => ops.right(`kR${j}`, 'kS', kk, j, ldk, false),
  );
  const column = laneColumn(cpl);
  // Δ partial over this lane's dims (strided by the lanes of a row), f32 from global o and dO.
  const deltaPart =
    p.dh % 4 === 0
      ? `for (var c = part; c < ${p.dh / 4}u; c += ${lpr}u) {
    let at = (bh * u.Tq + qi) * ${p.dh / 4}u + c;
    dpart += dot(vec4<f32>(gb[at]), vec4<f32>(ob[at]));
  }`
      : `for (var d = part; d < DH; d += ${lpr}u) {
    let at = (bh * u.Tq + qi) * DH + d;
    dpart += f32(gb[at]) * f32(ob[at]);
  }`;
  const elem = rowElement(p);
  const bindings: Binding[] = [
    ['qb', elem, false],
    ['kb', elem, false],
    ['vb', elem, false],
    ['ob', elem, false],
    ['gb', elem, false],
    ['lse', 'f32', false],
    ...docStartBinding(p),
    ['dqb', elem, true],
    ['delta', 'f32', true],
  ];
  return checkedWorkgroupLayout(`${moduleHead(p, bindings)}
var<workgroup> qS: array<${el}, ${bq * ldq}>;
var<workgroup> gS: array<${el}, ${bq * ldq}>;
var<workgroup> kS: array<${el}, ${p.bk * ldk}>;
${p.transposed ? `var<workgroup> kT: array<${el}, ${dhp * ldt}>;` : ''}
var<workgroup> vS: array<${el}, ${p.transposed ? dhp * ldt : p.bk * ldv}>;
/** P, then dS = P ∘ (dP - Δ), of the tile. */
var<workgroup> dS: array<${el}, ${bq * ldp}>;
/** S, then dP, of the tile (f32); dq at the end. */
var<workgroup> sS: array<f32, ${bq * lds}>;
var<workgroup> red: array<f32, ${bq * lpr}>;
${mainOpening(p)}
  ${stageOnce([qT, gT])}
  // The lane's row (within the block) and its part of the columns.
  ${laneRow(p)}
  let rowLse = lse[bh * u.Tq + qi];
  var dpart = 0.0;
  ${deltaPart}
  ${rowCombine(p, 'dpart', 'dl', 'sum', '  ')}
  ${ops.zeros('dq', dimTiles).join('\n  ')}
  ${stream.begin}
  workgroupBarrier();
  ${[...qOps, ...gOps]
    .flat()
    .map((o) => o.code)
    .join('\n  ')}
  for (var k0 = 0u; k0 < kEnd; k0 += ${p.bk}u) {
    workgroupBarrier();
    ${stream.store}
    workgroupBarrier();
    ${stream.prefetch}
    ${scores.join('\n    ')}
    workgroupBarrier();
    for (var c = 0u; c < ${cpl}u; c++) {
      ${column}
      let key = k0 + col;
      let ok = key <= pos && key >= first && key < u.Tk;
      dS[row * ${ldp}u + col] = ${round(`select(0.0, exp(sS[row * ${lds}u + col] * u.scale - rowLse), ok)`)};
    }
    workgroupBarrier();
    ${dP.join('\n    ')}
    workgroupBarrier();
    for (var c = 0u; c < ${cpl}u; c++) {
      ${column}
      let at = row * ${ldp}u + col;
      dS[at] = ${round(`f32(dS[at]) * (sS[row * ${lds}u + col] - dl)`)};
    }
    workgroupBarrier();
    ${dqProduct.join('\n    ')}
  }
  ${ops.store('dq', dimTiles, 'sS', lds).join('\n  ')}
  if (part == 0u && q0 + row < u.Tq) { delta[bh * u.Tq + q0 + row] = dl; }
  workgroupBarrier();
  ${writeRows(p, lds, 'dqb', 'u.scale')}
}`);
}
