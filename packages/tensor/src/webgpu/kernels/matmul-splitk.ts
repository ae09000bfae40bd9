import type { DType } from '../../dtype.js';
import type { GpuRuntime } from '../runtime.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

/**
 * The second pass of split-K matmul: `out[i] = sum_s partial[s * count + i]`
 * over the `[splits, M, N]` f32 partial products of the register-tiled kernel
 * (`splitK` in `matmul.wgsl.ts`), in split order, converted to the output
 * dtype. Four outputs per thread, vec4 when `count % 4 == 0`.
 */
const uniforms = new UniformStruct([
  { name: 'count', type: 'u32' },
  { name: 'splits', type: 'u32' },
]);

const THREADS = 256;

export const splitKReduceWgsl = (outDtype: DType, vec4: boolean): string => {
  const body = vec4
    ? `  let q = i / 4u;
  if (q >= u.count / 4u) { return; }
  var s = P[q];
  for (var k = 1u; k < u.splits; k++) { s += P[k * (u.count / 4u) + q]; }
  C[q] = vec4<${outDtype}>(s);`
    : `  for (var j = i; j < min(i + 4u, u.count); j++) {
    var s = P[j];
    for (var k = 1u; k < u.splits; k++) { s += P[k * u.count + j]; }
    C[j] = ${outDtype}(s);
  }`;
  return `${enableF16(outDtype)}
${uniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> P: array<${vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> C: array<${vec4 ? `vec4<${outDtype}>` : outDtype}>;

@compute @workgroup_size(${THREADS})
fn main(${mainParams}) {
  let i = (${linearWorkgroupIndex} * ${THREADS}u + lid) * 4u;
${body}
}`;
};

/** Sums `splits` partial `[count]` f32 slices of `partial` into `out` (dtype `outDtype`). */
export function launchSplitKReduce(
  rt: GpuRuntime,
  partial: GPUBuffer,
  out: GPUBuffer,
  outDtype: DType,
  count: number,
  splits: number,
): void {
  const vec4 = count % 4 === 0;
  rt.dispatch({
    pipelineKey: `matmul.splitk-reduce|${outDtype}|${vec4 ? 'v4' : 's'}`,
    makeCode: () => splitKReduceWgsl(outDtype, vec4),
    bindings: [{ buffer: partial }, { buffer: out, write: true }],
    uniforms: uniforms.pack({ count, splits }),
    workgroups: Math.ceil(count / (4 * THREADS)),
  });
}
