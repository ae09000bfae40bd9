import type { DType } from '../../dtype.js';
import type { GpuRuntime } from '../runtime.js';
import { enableF16 } from '../wgsl.js';
import { matmulUniforms } from './matmul.wgsl.js';
import { type MatmulProblem, matmulUniformValues } from './matmul-problem.js';

/**
 * The plain matmul: one thread per output element, scalar strided loads, f32
 * accumulation in K order. No shared memory and no alignment assumptions, so
 * it is the fallback of last resort and the readable reference for the fast
 * variants (`DYNCONV_MATMUL=naive`).
 */
export const naiveMatmulWgsl = (
  aDtype: DType,
  bDtype: DType,
  outDtype: DType,
): string => `${enableF16(aDtype, bDtype, outDtype)}
${matmulUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> A: array<${aDtype}>;
@group(0) @binding(2) var<storage, read> B: array<${bDtype}>;
@group(0) @binding(3) var<storage, read_write> C: array<${outDtype}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let col = wid.x * 16u + lid % 16u;
  let row = wid.y * 16u + lid / 16u;
  let batch = u.batchBase + wid.z;
  if (row >= u.M || col >= u.N) { return; }
  let a0 = u.aOff + batch * u.aBatch + row * u.aRow;
  let b0 = u.bOff + batch * u.bBatch + col * u.bCol;
  var acc = 0.0;
  for (var k = 0u; k < u.K; k++) {
    acc = fma(f32(A[a0 + k * u.aCol]), f32(B[b0 + k * u.bRow]), acc);
  }
  C[batch * u.M * u.N + row * u.N + col] = ${outDtype}(acc);
}`;

/** Launches {@link naiveMatmulWgsl} for `p`. */
export function launchNaive(rt: GpuRuntime, p: MatmulProblem): void {
  const key = `matmul.naive|${p.a.dtype},${p.b.dtype}>${p.outDtype}`;
  const maxZ = rt.maxWorkgroupsPerDimension;
  for (let batchBase = 0; batchBase < p.batch; batchBase += maxZ)
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => naiveMatmulWgsl(p.a.dtype, p.b.dtype, p.outDtype),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: p.out, write: true }],
      uniforms: matmulUniforms.pack(matmulUniformValues(p, batchBase)),
      workgroups: [Math.ceil(p.n / 16), Math.ceil(p.m / 16), Math.min(maxZ, p.batch - batchBase)],
    });
}
