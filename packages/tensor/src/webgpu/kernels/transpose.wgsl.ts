import type { View } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { gpuBufferOf } from '../buffer.js';
import type { GpuRuntime } from '../runtime.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16 } from '../wgsl.js';

/**
 * A copy whose source is a transposed 2D view (`x.T` of a row-major matrix:
 * strides `[1, ld]`) into a row-major destination, through 32 x 32 tiles in
 * workgroup memory: reads coalesced along the source's rows, writes along
 * the destination's. The generic strided copy reads one element per 32-byte
 * sector there (the weight copies of the reduced-precision linear forward).
 */
const uniforms = new UniformStruct([
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'ld', type: 'u32' },
  { name: 'srcOff', type: 'u32' },
  { name: 'dstOff', type: 'u32' },
]);

const TILE = 32;
const ROWS_PER_PASS = 8;

export const transposeCopyWgsl = (dtype: DType): string => `${enableF16(dtype)}
${uniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${dtype}>;
// One padding column: the column-wise reads of the write phase hit 32 different banks.
var<workgroup> tile: array<array<${dtype}, ${TILE + 1}>, ${TILE}>;
@compute @workgroup_size(${TILE}, ${ROWS_PER_PASS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i0 = wid.y * ${TILE}u;
  let j0 = wid.x * ${TILE}u;
  // dst[i][j] = src[i + j * ld]: lanes walk i, contiguous in the source.
  for (var k = lid.y; k < ${TILE}u; k += ${ROWS_PER_PASS}u) {
    let i = i0 + lid.x;
    let j = j0 + k;
    if (i < u.rows && j < u.cols) { tile[k][lid.x] = src[u.srcOff + i + j * u.ld]; }
  }
  workgroupBarrier();
  // Lanes walk j, contiguous in the destination.
  for (var k = lid.y; k < ${TILE}u; k += ${ROWS_PER_PASS}u) {
    let i = i0 + k;
    let j = j0 + lid.x;
    if (i < u.rows && j < u.cols) { dst[u.dstOff + i * u.cols + j] = tile[lid.x][k]; }
  }
}`;

/** Whether `copy(src, dst)` is a matrix transpose into a row-major destination (see {@link launchTransposeCopy}). */
export const isTransposeCopy = (src: View, dst: View): boolean =>
  src.shape.length === 2 &&
  src.dtype === dst.dtype &&
  src.shape[0]! > 1 &&
  src.shape[1]! > 1 &&
  src.strides[0] === 1 &&
  src.strides[1]! >= src.shape[0]! &&
  dst.strides[0] === src.shape[1] &&
  dst.strides[1] === 1;

/** Copies the transposed view `src` `[rows, cols]` (strides `[1, ld]`) into row-major `dst`. */
export function launchTransposeCopy(rt: GpuRuntime, src: View, dst: View): void {
  const [rows, cols] = src.shape as [number, number];
  rt.dispatch({
    pipelineKey: `copy.transpose|${src.dtype}`,
    makeCode: () => transposeCopyWgsl(src.dtype),
    bindings: [{ buffer: gpuBufferOf(src.buffer) }, { buffer: gpuBufferOf(dst.buffer), write: true }],
    uniforms: uniforms.pack({ rows, cols, ld: src.strides[1]!, srcOff: src.offset, dstOff: dst.offset }),
    workgroups: [Math.ceil(cols / TILE), Math.ceil(rows / TILE), 1],
  });
}
