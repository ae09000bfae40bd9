import { empty, gpuBufferOf, sum, type Tensor, WebGPUBackend } from '@dynconv/tensor';

/**
 * The fused sum of squares of {@link globalGradNorm}. `enabled: false` (or the
 * env `DYNCONV_FUSED_GRAD_NORM=0` at load) keeps the composed form: the
 * reference, and the baseline of the e2e measurement.
 */
export const fusedGradNorm = {
  enabled:
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
      ?.DYNCONV_FUSED_GRAD_NORM !== '0',
};

const WORKGROUP = 256;
/** Workgroups per tensor at most: enough to fill the GPU, few partials to sum. */
const MAX_GROUPS = 1024;

const WGSL = /* wgsl */ `
struct Params { n: u32, off: u32, slot: u32, groups: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
var<workgroup> acc: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = wid.x * ${WORKGROUP}u + lid; i < u.n; i += u.groups * ${WORKGROUP}u) {
    let v = x[u.off + i];
    s += v * v;
  }
  acc[lid] = s;
  workgroupBarrier();
  for (var k = ${WORKGROUP / 2}u; k > 0u; k >>= 1u) {
    if (lid < k) { acc[lid] += acc[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[u.slot + wid.x] = acc[0]; }
}`;

/**
 * `Σ_t Σ t²` over dense f32 tensors of one WebGPU backend, as a one-element
 * tensor: one dispatch per tensor writes its workgroup partial sums into a
 * shared buffer, then one `sum` reduces it. The composed form runs a square,
 * one or two reductions and a scalar add per tensor (and writes, then reads,
 * a squared copy). Null when fusion is off or a tensor does not qualify
 * (another backend, f16, a strided view): the caller composes.
 */
export function fusedSumOfSquares(ts: readonly Tensor[]): Tensor | null {
  const backend = ts[0]?.backend;
  if (!fusedGradNorm.enabled || !(backend instanceof WebGPUBackend)) return null;
  const dense = (t: Tensor) =>
    t.backend === backend && t.dtype === 'f32' && t.size > 0 && (t.isContiguous || isDenseView(t));
  if (!ts.every(dense)) return null;
  const groups = ts.map((t) => Math.min(Math.ceil(t.size / (8 * WORKGROUP)), MAX_GROUPS));
  const partials = empty(backend, [groups.reduce((a, b) => a + b, 0)], 'f32');
  let slot = 0;
  ts.forEach((t, i) => {
    backend.runtime.dispatch({
      pipelineKey: 'trainer.sumsq|f32',
      makeCode: () => WGSL,
      bindings: [
        { buffer: gpuBufferOf(t.storage.buffer) },
        { buffer: gpuBufferOf(partials.storage.buffer), write: true },
      ],
      uniforms: new Uint32Array([t.size, t.offset, slot, groups[i]!]),
      workgroups: groups[i]!,
    });
    slot += groups[i]!;
  });
  const total = sum(partials);
  partials.dispose();
  return total;
}

/** Row-major strides over its own shape (a contiguous block at an offset, e.g. a slice of a packed gradient). */
const isDenseView = (t: Tensor): boolean => {
  let expect = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== expect) return false;
    expect *= t.shape[i]!;
  }
  return true;
};
