import {
  checkedWorkgroupLayout,
  emulationBounds,
  emulationRounding,
  matrixOps,
  type Operand,
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
 * The attention dq kernel on tensor cores (reduced precision), the
 * subgroup-matrix counterpart of `attentionQueryGradWgsl` with the same
 * bindings, uniforms and outputs: dq `[B, H, Tq, dh]` and Δ = rowsum(dO ∘ O)
 * `[B, H, Tq]` (f32, exact: from the stored f32 o and dO). Per key tile:
 * S = Q·Kᵀ and dP = dO·Vᵀ as f16 × f16 → f32 products, P = exp(S - lse)
 * and dS = P ∘ (dP - Δ) in f32 through workgroup memory (rounded to f16 for
 * the product), dq += dS·K. A workgroup owns `subgroups · sgRows` query rows;
 * Q and dO are staged once and held as left operands.
 */
export interface SgmatQueryGradLaunch {
  readonly subgroups: number;
  /** Query rows per subgroup: 16 (two lanes per row in the elementwise passes) or 32 (one). */
  readonly sgRows: 16 | 32;
  /** Keys per streamed tile (a multiple of 16). */
  readonly bk: number;
  /**
   * Stage a `[d][key]` copy of K and V `[d][key]` (row-major right loads for
   * S and dP), else read K and V `[key][d]` column-major.
   */
  readonly transposed: boolean;
}

export interface SgmatQueryGradParams extends SgmatQueryGradLaunch, SgmatKernelBase {
  readonly docs: boolean;
  /** Grid `(B·H, blocks)`, last (heaviest) query blocks first; else `(blocks, B·H)`. */
  readonly heavyFirst: boolean;
}

/** Workgroup-memory layout (element counts, leading dimensions) of the dq kernel. */
export function sgmatQueryGradLayout(p: SgmatQueryGradParams) {
  const bq = p.subgroups * p.sgRows;
  const dhp = roundUp(p.dh, 16);
  const ldq = dhp + PAD; // qS, gS `[row][d]`
  const ldk = dhp + PAD; // kS `[key][d]`
  const ldt = p.bk + PAD; // kT `[d][key]`, vS transposed
  const ldv = p.transposed ? ldt : dhp + PAD;
  const ldp = p.bk + PAD; // dS `[row][key]`
  const lds = Math.max(p.bk, dhp) + PAD_F32; // S, dP, and dq at the end
  const lpr = SUBGROUP / p.sgRows;
  const halves = 2 * bq * ldq + p.bk * ldk + (p.transposed ? 2 * dhp * ldt : p.bk * ldv) + bq * ldp;
  const floats = bq * lds + bq * lpr;
  return { bq, dhp, ldq, ldk, ldt, ldv, ldp, lds, lpr, bytes: halves * (p.emulate ? 4 : 2) + floats * 4 };
}

export function sgmatQueryGradInvalid(p: SgmatQueryGradParams): string | null {
  const { m, n, k } = p.shape;
  if (m !== 16 || ![8, 16].includes(n) || ![8, 16].includes(k)) return `shape ${m}x${n}x${k} unsupported`;
  if (p.bk % 16 !== 0 || p.bk < 16) return `bk ${p.bk} is not a multiple of 16`;
  if (p.sgRows !== 16 && p.sgRows !== 32) return `sgRows ${p.sgRows} is not 16 or 32`;
  if (p.subgroups < 1) return 'no subgroups';
  return null;
}

export const sgmatQueryGradBytes = (p: SgmatQueryGradParams): number => sgmatQueryGradLayout(p).bytes;

export const sgmatQueryGradKey = (p: SgmatQueryGradParams): string =>
  `causalAttention.dq|sgmat|${p.dtype}|dh=${p.dh}|docs=${p.docs ? 1 : 0}|sg=${p.subgroups}x${p.sgRows}|bk=${p.bk}` +
  `|T=${p.transposed ? 1 : 0}|${p.shape.m}x${p.shape.n}x${p.shape.k}|heavy=${p.heavyFirst ? 1 : 0}` +
  `|${p.emulate ? 'emulated' : `${p.syntax.builtins},${p.syntax.diagnostic}`}`;

/** Workgroup grid `[x, y]` for `rows` query rows of `heads` (batch, head) pairs. */
export const sgmatQueryGradGrid = (
  p: SgmatQueryGradParams,
  rows: number,
  heads: number,
): [number, number] => {
  const blocks = Math.ceil(rows / (p.subgroups * p.sgRows));
  return p.heavyFirst ? [heads, blocks] : [blocks, heads];
};

const range = (len: number): number[] => Array.from({ length: len }, (_, i) => i);

/** dq and Δ; bindings q, k, v, o, dO, lse, (docStart), dq, Δ. Grid: `sgmatQueryGradGrid`. */
export function sgmatQueryGradWgsl(p: SgmatQueryGradParams): string {
  const invalid = sgmatQueryGradInvalid(p);
  if (invalid) throw new RangeError(`sgmat attention dq: ${invalid}`);
  const { m, n, k } = p.shape;
  const { bq, dhp, ldq, ldk, ldt, ldv, ldp, lds, lpr } = sgmatQueryGradLayout(p);
  const nt = p.subgroups * SUBGROUP;
  const el = p.emulate ? 'f32' : 'f16';
  const round = (x: string) => (p.emulate ? `h16s(${x})` : `f16(${x})`);
  const mx = matrixOps(p);
  const rowTiles = p.sgRows / m;
  const keyTiles = p.bk / n;
  const dimTiles = dhp / n;
  const cpl = p.bk / lpr;
  const rowOff = (i: number, ld: number) => `(sg * ${p.sgRows}u + ${i * m}u) * ${ld}u`;
  const sp = { ...p, threads: nt };
  const kvAt = 'kvh * u.Tk';
  const kN = staging(sp, 'xk', 'kS', 'kb', p.bk, 'nk0', 'u.Tk', kvAt, false, ldk);
  const kT = staging(sp, 'xt', 'kT', 'kb', p.bk, 'nk0', 'u.Tk', kvAt, true, ldt);
  const vT = staging(sp, 'xv', 'vS', 'vb', p.bk, 'nk0', 'u.Tk', kvAt, p.transposed, ldv);
  const tiles = p.transposed ? [kN, kT, vT] : [kN, vT];
  const qT = staging(sp, 'xq', 'qS', 'qb', bq, 'q0', 'u.Tq', 'bh * u.Tq', false, ldq);
  const gT = staging(sp, 'xg', 'gS', 'gb', bq, 'q0', 'u.Tq', 'bh * u.Tq', false, ldq);

  /** `acc_i_j += Σ_kk left(i, kk) · right(kk, j)`, each right operand reused over the row tiles. */
  const product = (
    acc: string,
    cols: number,
    steps: number,
    left: (i: number, kk: number) => { code: string; op: Operand },
    right: (kk: number, j: number) => { code: string; op: Operand },
  ): string[] => {
    const out: string[] = [];
    for (const kk of range(steps)) {
      out.push('{');
      const a = range(rowTiles).map((i) => left(i, kk));
      for (const x of a) if (x.code) out.push(`  ${x.code}`);
      for (const j of range(cols)) {
        const b = right(kk, j);
        out.push(`  { ${b.code}`);
        for (const i of range(rowTiles)) out.push(`    ${mx.mma(`${acc}${i}_${j}`, a[i]!.op, b.op)}`);
        out.push('  }');
      }
      out.push('}');
    }
    return out;
  };
  const results = (acc: string, cols: number) =>
    range(rowTiles).flatMap((i) => range(cols).map((j) => mx.zero(`${acc}${i}_${j}`)));
  const storeAll = (acc: string, cols: number) =>
    range(rowTiles).flatMap((i) =>
      range(cols).map((j) => mx.store(`${acc}${i}_${j}`, 'sS', `${rowOff(i, lds)} + ${j * n}u`, lds)),
    );
  // Q and dO as left operands, loaded once (no code at the use).
  const preloaded = (arr: string, name: string) =>
    range(rowTiles).map((i) =>
      range(dhp / k).map((kk) =>
        mx.operand('left', `${name}${i}_${kk}`, arr, `${rowOff(i, ldq)} + ${kk * k}u`, ldq, false),
      ),
    );
  const qOps = preloaded('qS', 'qL');
  const gOps = preloaded('gS', 'gL');
  const use = (o: { op: Operand }) => ({ code: '', op: o.op });
  // Right operand (d, key) of K or V: `[d][key]` row-major, or `[key][d]` column-major.
  const transposedRight = (name: string, arr: string, kk: number, j: number, t: boolean, ld: number) =>
    mx.operand('right', name, arr, t ? `${kk * k * ld + j * n}u` : `${j * n * ld + kk * k}u`, ld, !t);
  const scores = [
    ...results('s', keyTiles),
    ...product(
      's',
      keyTiles,
      dhp / k,
      (i, kk) => use(qOps[i]![kk]!),
      (kk, j) =>
        p.transposed
          ? transposedRight(`kR${j}`, 'kT', kk, j, true, ldt)
          : transposedRight(`kR${j}`, 'kS', kk, j, false, ldk),
    ),
    ...storeAll('s', keyTiles),
  ];
  const dP = [
    ...results('dp', keyTiles),
    ...product(
      'dp',
      keyTiles,
      dhp / k,
      (i, kk) => use(gOps[i]![kk]!),
      (kk, j) => transposedRight(`vR${j}`, 'vS', kk, j, p.transposed, ldv),
    ),
    ...storeAll('dp', keyTiles),
  ];
  const dqProduct = product(
    'dq',
    dimTiles,
    p.bk / k,
    (i, kk) => mx.operand('left', `dsL${i}`, 'dS', `${rowOff(i, ldp)} + ${kk * k}u`, ldp, false),
    (kk, j) => mx.operand('right', `kR${j}`, 'kS', `${kk * k * ldk + j * n}u`, ldk, false),
  );
  const combine = (v: string, name: string) =>
    lpr === 1
      ? `let ${name} = ${v};`
      : `red[row * 2u + part] = ${v};
  workgroupBarrier();
  let ${name} = red[row * 2u] + red[row * 2u + 1u];`;
  const column = `let col = part * ${cpl}u + (c + row + part * 16u) % ${cpl}u;`;
  const vec = p.dh % 4 === 0;
  const store = vec ? `vec4<${p.dtype}>` : p.dtype;
  // Δ partial over this lane's dims (strided by the lanes of a row), f32 from global o and dO.
  const deltaPart = vec
    ? `for (var c = part; c < ${p.dh / 4}u; c += ${lpr}u) {
    let at = (bh * u.Tq + qi) * ${p.dh / 4}u + c;
    dpart += dot(vec4<f32>(gb[at]), vec4<f32>(ob[at]));
  }`
    : `for (var d = part; d < DH; d += ${lpr}u) {
    let at = (bh * u.Tq + qi) * DH + d;
    dpart += f32(gb[at]) * f32(ob[at]);
  }`;
  const writeOut = vec
    ? `for (var e = lid; e < ${bq * (p.dh / 4)}u; e += ${nt}u) {
    let r = e / ${p.dh / 4}u;
    let c = e % ${p.dh / 4}u;
    if (q0 + r < u.Tq) {
      let at = r * ${lds}u + c * 4u;
      dqb[(bh * u.Tq + q0 + r) * ${p.dh / 4}u + c] = vec4<${p.dtype}>(vec4<f32>(sS[at], sS[at + 1u], sS[at + 2u], sS[at + 3u]) * u.scale);
    }
  }`
    : `for (var e = lid; e < ${bq * p.dh}u; e += ${nt}u) {
    let r = e / DH;
    let c = e % DH;
    if (q0 + r < u.Tq) { dqb[(bh * u.Tq + q0 + r) * DH + c] = ${p.dtype}(sS[r * ${lds}u + c] * u.scale); }
  }`;
  const bindings: [string, string, boolean][] = [
    ['qb', store, false],
    ['kb', store, false],
    ['vb', store, false],
    ['ob', store, false],
    ['gb', store, false],
    ['lse', 'f32', false],
    ...(p.docs ? [['db', 'i32', false] as [string, string, boolean]] : []),
    ['dqb', store, true],
    ['delta', 'f32', true],
  ];
  return checkedWorkgroupLayout(`${sgmatHeader(p)}
${attentionUniforms.wgsl}
${storageBindings(bindings)}
const DH = ${p.dh}u;
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
    ${qT.decl} ${gT.decl}
    ${qT.load}
    ${gT.load}
    ${qT.store}
    ${gT.store}
  }
  // The lane's row (within the block) and its part of the columns.
  let row = sg * ${p.sgRows}u + lane % ${p.sgRows}u;
  let part = lane / ${p.sgRows}u;
  let qi = min(q0 + row, u.Tq - 1u);
  let pos = u.kvOffset + qi;
  let first = ${p.docs ? 'u32(max(db[b * u.Tq + qi], 0))' : '0u'};
  let rowLse = lse[bh * u.Tq + qi];
  var dpart = 0.0;
  ${deltaPart}
  ${combine('dpart', 'dl')}
  ${results('dq', dimTiles).join('\n  ')}
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${bq}u, u.Tq));
  ${tiles.map((t) => t.decl).join(' ')}
  { let nk0 = 0u;
    ${tiles.map((t) => t.load).join('\n    ')}
  }
  workgroupBarrier();
  ${[...qOps, ...gOps]
    .flat()
    .map((o) => o.code)
    .join('\n  ')}
  for (var k0 = 0u; k0 < kEnd; k0 += ${p.bk}u) {
    workgroupBarrier();
    ${tiles.map((t) => t.store).join('\n    ')}
    workgroupBarrier();
    if (k0 + ${p.bk}u < kEnd) {
      let nk0 = k0 + ${p.bk}u;
      ${tiles.map((t) => t.load).join('\n      ')}
    }
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
  ${storeAll('dq', dimTiles).join('\n  ')}
  if (part == 0u && q0 + row < u.Tq) { delta[bh * u.Tq + q0 + row] = dl; }
  workgroupBarrier();
  ${writeOut}
}`);
}
