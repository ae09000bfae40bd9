import { type SgmatCommonParams, sgmatBlockRows, sgmatThreads } from './causal-attention.sgmat-launch.js';
import {
  emulationBounds,
  emulationRounding,
  type Staging,
  SUBGROUP,
  sgmatHeader,
  storageBindings,
} from './causal-attention.sgmat-ops.js';
import { attentionUniforms } from './causal-attention.wgsl.js';

/**
 * The WGSL frame both subgroup-matrix attention kernels share: module head,
 * the opening of `main`, the lane's softmax row, row reductions across its
 * lanes, the key-tile stream and the output write. Each kernel fills in its
 * products and row-wise passes between them.
 */

/** A storage binding: `[name, element type, writable]`. */
export type Binding = readonly [string, string, boolean];

/** Element type of q, k, v, o and the gradients in storage: vec4 when the head dim allows. */
export const rowElement = (p: SgmatCommonParams): string => (p.dh % 4 === 0 ? `vec4<${p.dtype}>` : p.dtype);

/** The docStart binding, when the kernel has one. */
export const docStartBinding = (p: SgmatCommonParams): Binding[] => (p.docs ? [['db', 'i32', false]] : []);

/** `enable` lines, uniforms, storage `bindings` (from 1) and the head dim `DH`. */
export const moduleHead = (p: SgmatCommonParams, bindings: readonly Binding[]): string =>
  `${sgmatHeader(p)}
${attentionUniforms.wgsl}
${storageBindings(bindings)}
const DH = ${p.dh}u;`;

/**
 * The module's helper functions, then `main` up to `q0`, the block's first
 * query row (the caller goes on and closes `main`): ids of the (batch, head),
 * its kv head, the subgroup and the lane.
 */
export const mainOpening = (p: SgmatCommonParams): string => `${emulationRounding(p)}

@compute @workgroup_size(${sgmatThreads(p)})
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
  let q0 = ${p.heavyFirst ? '(nwg.y - 1u - wid.y)' : 'wid.x'} * ${sgmatBlockRows(p)}u;`;

/** A block of `main` that stages `tiles` once (all loads, then all stores). */
export const stageOnce = (tiles: readonly Staging[]): string => `{
    ${tiles.map((t) => t.decl).join(' ')}
    ${tiles.map((t) => t.load).join('\n    ')}
    ${tiles.map((t) => t.store).join('\n    ')}
  }`;

/**
 * The lane's row (`row` within the block, clamped query `qi`, its key
 * position `pos` and first visible key `first`) and its `part` of the columns.
 */
export const laneRow = (p: SgmatCommonParams): string =>
  `let row = sg * ${p.sgRows}u + lane % ${p.sgRows}u;
  let part = lane / ${p.sgRows}u;
  let qi = min(q0 + row, u.Tq - 1u);
  let pos = u.kvOffset + qi;
  let first = ${p.docs ? 'u32(max(db[b * u.Tq + qi], 0))' : '0u'};`;

/**
 * `let name` = the max or sum of `v` over the lanes of a row: `v` itself with
 * one lane per row, else through workgroup array `red` (lines after the first
 * indented by `indent`).
 */
export const rowCombine = (
  p: SgmatCommonParams,
  v: string,
  name: string,
  op: 'max' | 'sum',
  indent: string,
): string =>
  p.sgRows === SUBGROUP
    ? `let ${name} = ${v};`
    : `red[row * 2u + part] = ${v};
${indent}workgroupBarrier();
${indent}let ${name} = ${op === 'max' ? 'max(red[row * 2u], red[row * 2u + 1u])' : 'red[row * 2u] + red[row * 2u + 1u]'};`;

/** Column `col` of the lane's step `c` over `cpl` columns, rotated by the row so the lanes of a warp hit different banks. */
export const laneColumn = (cpl: number): string =>
  `let col = part * ${cpl}u + (c + row + part * 16u) % ${cpl}u;`;

/**
 * K and V tiles streamed through registers: the first loaded before the key
 * loop (`begin`, also setting the loop end `kEnd`), each stored to workgroup
 * memory at the top of its iteration (`store`), the next one loaded into
 * registers while the current one is used (`prefetch`).
 */
export function keyTileStream(p: SgmatCommonParams, tiles: readonly Staging[]) {
  const loads = (indent: string) => tiles.map((t) => t.load).join(`\n${indent}`);
  return {
    begin: `let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${sgmatBlockRows(p)}u, u.Tq));
  ${tiles.map((t) => t.decl).join(' ')}
  { let nk0 = 0u;
    ${loads('    ')}
  }`,
    store: tiles.map((t) => t.store).join('\n    '),
    prefetch: `if (k0 + ${p.bk}u < kEnd) {
      let nk0 = k0 + ${p.bk}u;
      ${loads('      ')}
    }`,
  };
}

/**
 * Writes the block's rows of f32 array `sS` (leading dimension `lds`), each
 * times `factor` (WGSL in row `r`), to storage `dst` `[B, H, Tq, dh]`.
 */
export function writeRows(p: SgmatCommonParams, lds: number, dst: string, factor: string): string {
  const bq = sgmatBlockRows(p);
  const nt = sgmatThreads(p);
  return p.dh % 4 === 0
    ? `for (var e = lid; e < ${bq * (p.dh / 4)}u; e += ${nt}u) {
    let r = e / ${p.dh / 4}u;
    let c = e % ${p.dh / 4}u;
    if (q0 + r < u.Tq) {
      let at = r * ${lds}u + c * 4u;
      ${dst}[(bh * u.Tq + q0 + r) * ${p.dh / 4}u + c] = vec4<${p.dtype}>(vec4<f32>(sS[at], sS[at + 1u], sS[at + 2u], sS[at + 3u]) * ${factor});
    }
  }`
    : `for (var e = lid; e < ${bq * p.dh}u; e += ${nt}u) {
    let r = e / DH;
    let c = e % DH;
    if (q0 + r < u.Tq) { ${dst}[(bh * u.Tq + q0 + r) * DH + c] = ${p.dtype}(sS[r * ${lds}u + c] * ${factor}); }
  }`;
}
