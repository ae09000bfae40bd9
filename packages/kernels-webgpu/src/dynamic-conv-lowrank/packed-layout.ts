import type { KernelRuntime } from '../common/gpu.js';
import { Uniforms } from '../common/uniforms.js';
import { convUniforms } from '../conv-core/conv-loop.wgsl.js';

/**
 * The packed layout of the low-rank kernels: x (and dx) and z are column
 * ranges of one `[B, T, P]` tensor (e.g. the q|k|v|z_q|z_k|z_v output of one
 * fused matmul) instead of tensors of their own. Token row `tok` of x starts
 * at element `tok * stride + xOff`, of z at `tok * stride + zOff`. Why: the
 * kernels then read the matmul output in place and write dx/dz straight into
 * its packed gradient, with no strided copy on either side.
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

/** The access a layout allows. */
export const packedAccess = (l: PackedLayout): PackedAccess =>
  l.stride % 4 === 0 && l.xOffset % 4 === 0 && l.zOffset % 4 === 0 ? 'vec4' : 'scalar';

/** The conv uniforms plus the layout (`stride`, `xOff`, `zOff`, in scalar elements). */
export const packedUniforms = new Uniforms([
  ...convUniforms.fields,
  ['stride', 'u32'],
  ['xOff', 'u32'],
  ['zOff', 'u32'],
]);

/** The uniform block of a kernel in `packed` layout (or contiguous). */
export const uniformsOf = (packed: PackedAccess | undefined): Uniforms =>
  packed ? packedUniforms : convUniforms;

/** The uniform values of a layout, to merge into a kernel's uniform values. */
export const layoutValues = (l: PackedLayout | undefined): Record<string, number> =>
  l ? { stride: l.stride, xOff: l.xOffset, zOff: l.zOffset } : {};

/**
 * `rt` whose dispatches carry `layout`: each dispatch's conv uniform block
 * (packed by the shared launchers, e.g. conv-core's dispatchTokenLoop) is
 * extended by the layout fields. packedUniforms starts with the conv
 * fields, so their slots are unchanged.
 */
export function layoutRuntime(rt: KernelRuntime, layout: PackedLayout): KernelRuntime {
  const base = packedUniforms.pack(layoutValues(layout));
  const convWords = convUniforms.fields.length;
  return {
    device: rt.device,
    maxWorkgroupsPerDimension: rt.maxWorkgroupsPerDimension,
    dispatch: (spec) => {
      const conv = new Uint32Array(spec.uniforms.buffer, spec.uniforms.byteOffset, convWords);
      const uniforms = base.slice();
      uniforms.set(conv);
      rt.dispatch({ ...spec, uniforms });
    },
  };
}

/** Pipeline-key fragment of a layout. */
export const packedKey = (packed: PackedAccess | undefined): string => (packed ? `|packed=${packed}` : '');

/**
 * Where row `row` of x starts, as the index expression before its column: in
 * elements, or with `vec4` in vec4s (contiguous: `row * D`, exactly the
 * contiguous kernels' text).
 */
export const xRowStart = (row: string, packed: PackedAccess | undefined, vec4 = false): string => {
  if (!packed) return vec4 ? `${row} * (u.D / 4u)` : `${row} * u.D`;
  return vec4 ? `(${row}) * (u.stride / 4u) + u.xOff / 4u` : `(${row}) * u.stride + u.xOff`;
};

/**
 * Index of value `col` of token `row` of z, `perToken` values a token (R, or
 * R/4 vec4s with `vec4`).
 */
export const zIndex = (
  row: string,
  col: string,
  perToken: number,
  packed: PackedAccess | undefined,
  vec4: boolean,
): string => {
  if (!packed) return `(${row}) * ${perToken}u + ${col}`;
  return vec4 ? `(${row}) * (u.stride / 4u) + u.zOff / 4u + ${col}` : `(${row}) * u.stride + u.zOff + ${col}`;
};

/**
 * The shared token loop (conv-core/conv-loop.wgsl.ts) in the packed layout:
 * its uniform block gains the layout fields, and its x/dx accesses
 * (`xb[E * u.D + c]`, `dxb[E * u.D + c]`) and the z tile loads of the
 * pipelined staging (`zb[E * perToken + e % perToken]`) are re-indexed.
 * Why a rewrite: conv-core's skeleton has no layout hook (see the report of
 * the packed op); any access left in another form throws here, so a change
 * of the skeleton fails loudly instead of reading the wrong memory.
 */
export function packTokenLoop(wgsl: string, z: { perToken: number; vec4: boolean }): string {
  if (!wgsl.includes(convUniforms.wgsl)) throw new Error('packTokenLoop: conv uniform block not found');
  const packed: PackedAccess = z.vec4 ? 'vec4' : 'scalar';
  const out = wgsl
    .replace(convUniforms.wgsl, packedUniforms.wgsl)
    .replace(/\b(d?xb)\[([^[\]]+?) \* u\.D \+ c\]/g, (_, buf: string, row: string) => {
      return `${buf}[${xRowStart(row, 'scalar')} + c]`;
    })
    .replace(
      new RegExp(`\\bzb\\[([^[\\]]+?) \\* ${z.perToken}u \\+ (e % ${z.perToken}u)\\]`, 'g'),
      (_, row: string, col: string) => `zb[${zIndex(row, col, z.perToken, packed, z.vec4)}]`,
    );
  assertPackedAccesses(out);
  return out;
}

/** Throws unless every x, dx and z access of `wgsl` goes through the packed layout. */
function assertPackedAccesses(wgsl: string): void {
  for (const m of wgsl.matchAll(/\b(xb|dxb|zb)\[/g)) {
    let depth = 1;
    let i = m.index + m[0].length;
    while (depth > 0 && i < wgsl.length) {
      if (wgsl[i] === '[') depth++;
      else if (wgsl[i] === ']') depth--;
      i++;
    }
    const index = wgsl.slice(m.index + m[0].length, i - 1);
    if (!index.includes('u.stride'))
      throw new Error(`packTokenLoop: ${m[1]}[${index}] does not use the packed layout`);
  }
}
