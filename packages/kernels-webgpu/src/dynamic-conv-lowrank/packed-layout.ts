import {
  type ConvLayout,
  contiguousLayout,
  type LaunchLayout,
  layoutUniforms,
  type StreamSet,
  streamLets,
} from '../conv-core/conv-layout.js';

/**
 * The packed layout of the low-rank kernels (a conv-core ConvLayout): x (and
 * dx) and z are column ranges of one `[B, T, P]` tensor (e.g. the
 * q|k|v|z_q|z_k|z_v output of one fused matmul) instead of tensors of their
 * own. Token row `tok` of stream i's x starts at element `tok * stride +
 * xOff_i`, of its z at `tok * stride + zOff_i`. Why: the kernels then read the
 * matmul output in place and write dx/dz straight into its packed gradient,
 * with no strided copy on either side. One dispatch may cover several
 * streams of the same shape (`stream`, its offsets and per-stream bindings:
 * conv-layout.ts).
 */

/** Row stride and column offsets of one stream in a packed tensor, in elements. */
export interface PackedLayout {
  /** P, the packed tensor's last-axis width. */
  readonly stride: number;
  /** First column of x (and dx). */
  readonly xOffset: number;
  /** First column of z (and dz). */
  readonly zOffset: number;
}

/**
 * How a kernel reads the packed layout (a compile-time parameter; absent:
 * contiguous tensors). 'vec4': stride and offsets are multiples of 4, so rows
 * may be read as vec4s; 'scalar': element loads only.
 */
export type PackedAccess = 'scalar' | 'vec4';

/** The access that all of `layouts` allow. */
export const packedAccess = (...layouts: readonly PackedLayout[]): PackedAccess =>
  layouts.every((l) => l.stride % 4 === 0 && l.xOffset % 4 === 0 && l.zOffset % 4 === 0) ? 'vec4' : 'scalar';

/**
 * The column ranges `[start, end)` of `[0, P)` that none of `covered` (disjoint
 * `[start, end)` ranges) touches, in order: the packed gradient's columns no
 * stream writes (zeroed on their own, see zero-columns.wgsl.ts).
 */
export function uncoveredColumns(
  P: number,
  covered: readonly (readonly [number, number])[],
): [number, number][] {
  const gaps: [number, number][] = [];
  let at = 0;
  for (const [start, end] of [...covered].sort((a, b) => a[0] - b[0])) {
    if (start > at) gaps.push([at, start]);
    at = Math.max(at, end);
  }
  if (at < P) gaps.push([at, P]);
  return gaps;
}

/** Most streams one dispatch covers (the uniform block holds this many offset pairs). */
export const MAX_PACKED_STREAMS = 4;

const streamIndices = Array.from({ length: MAX_PACKED_STREAMS }, (_, i) => i);

/** The conv uniforms plus `blocks`, the row stride and each stream's column offsets (scalar elements). */
export const packedUniforms = layoutUniforms([
  ['stride', 'u32'],
  ...streamIndices.map((i) => [`xOff${i}`, 'u32'] as const),
  ...streamIndices.map((i) => [`zOff${i}`, 'u32'] as const),
]);

/**
 * The packed layout of a kernel covering `streams` streams (1..MAX_PACKED_STREAMS),
 * whose bindings `perStream` exist once per stream. Its prelude defines
 * `stream` and the stream's offsets `xOff` and `zOff` (scalar elements).
 */
export function packedConvLayout(
  access: PackedAccess,
  streams: number,
  perStream: readonly string[],
): ConvLayout {
  if (!Number.isInteger(streams) || streams < 1 || streams > MAX_PACKED_STREAMS)
    throw new Error(`packed layout: streams must be in 1..${MAX_PACKED_STREAMS}, got ${streams}`);
  const set: StreamSet = { streams, perStream };
  return {
    key: `|packed=${access}|streams=${streams}`,
    uniforms: packedUniforms,
    streams,
    perStream,
    prelude: (along) =>
      `let stream = ${along} / u.blocks;
  ${streamLets(
    set,
    [
      { name: 'xOff', type: 'u32', value: (_, s) => `u.xOff${s}` },
      { name: 'zOff', type: 'u32', value: (_, s) => `u.zOff${s}` },
    ],
    '\n  ',
  )}`,
    block: (along) => `(${along} % u.blocks)`,
    xIndex: (row) => `${row} * u.stride + xOff + c`,
  };
}

/** The uniform values of streams at `layouts` (one packed tensor: the same stride). */
export function packedLaunchLayout(layouts: readonly PackedLayout[]): LaunchLayout {
  const stride = layouts[0]!.stride;
  if (layouts.some((l) => l.stride !== stride))
    throw new Error('packed layout: streams of one dispatch share the stride');
  const values: Record<string, number> = { stride };
  for (const [i, l] of layouts.entries()) {
    values[`xOff${i}`] = l.xOffset;
    values[`zOff${i}`] = l.zOffset;
  }
  return { uniforms: packedUniforms, streams: layouts.length, values };
}

/**
 * Where row `row` of x starts, as the index expression before its column: in
 * elements, or with `vec4` in vec4s (contiguous: `row * D`, exactly the
 * contiguous kernels' text). Packed: uses the prelude's `xOff`.
 */
export const xRowStart = (row: string, packed: PackedAccess | undefined, vec4 = false): string => {
  if (!packed) return vec4 ? `${row} * (u.D / 4u)` : `${row} * u.D`;
  return vec4 ? `(${row}) * (u.stride / 4u) + xOff / 4u` : `(${row}) * u.stride + xOff`;
};

/**
 * Index of value `col` of token `row` of z, `perToken` values a token (R, or
 * R/4 vec4s with `vec4`). Packed: uses the prelude's `zOff`.
 */
export const zIndex = (
  row: string,
  col: string,
  perToken: number,
  packed: PackedAccess | undefined,
  vec4: boolean,
): string => {
  if (!packed) return `(${row}) * ${perToken}u + ${col}`;
  return vec4 ? `(${row}) * (u.stride / 4u) + zOff / 4u + ${col}` : `(${row}) * u.stride + zOff + ${col}`;
};

/**
 * The dz kernels' layout: contiguous, or packed over `streams` streams (grid
 * z spans streams × channel slices; dy is per stream; the U transposes and
 * the partials of the streams follow one another).
 */
export const zGradLayout = (p: { readonly packed?: PackedAccess; readonly streams?: number }): ConvLayout =>
  p.packed ? packedConvLayout(p.packed, p.streams ?? 1, ['gb']) : contiguousLayout;

/**
 * The dz kernels' slice coordinates: `slice` (the partials' slice row, over
 * all streams), the layout's prelude and the slice's first channel `cStart`.
 */
export const zGradSliceStart = (layout: ConvLayout): string => {
  const prelude = layout.prelude('slice');
  return `let slice = wid.z;${prelude ? `\n  ${prelude}` : ''}
  let cStart = ${layout.block('slice')} * u.L;`;
};
