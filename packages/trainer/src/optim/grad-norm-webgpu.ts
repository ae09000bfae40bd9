import { empty, gpuBufferOf, slotOfWorkgroup, sum, type Tensor, WebGPUBackend } from '@dynconv/tensor';
import { chunks, slotsFor } from './multi-tensor.js';

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

/**
 * Up to `slots` tensors in one dispatch: slot k owns workgroups
 * [first_k, first_k + groups_k); each workgroup sums the squares of a strided
 * part of its tensor (in a fixed order) into `partials[base + w]`.
 */
const wgsl = (slots: number): string => {
  const xs = Array.from(
    { length: slots },
    (_, k) => `@group(0) @binding(${1 + k}) var<storage, read> x${k}: array<f32>;`,
  ).join('\n');
  const cases = Array.from(
    { length: slots },
    (_, k) => `    ${k === slots - 1 ? 'default' : `case ${k}u`}: {
      for (var i = start; i < sl.n; i += stride) {
        let v = x${k}[sl.off + i];
        s2 += v * v;
      }
    }`,
  ).join('\n');
  return /* wgsl */ `
struct Slot { n: u32, off: u32, first: u32, groups: u32 }
struct Params { base: u32, workgroups: u32, pad0: u32, pad1: u32, slots: array<Slot, ${slots}> }
@group(0) @binding(0) var<uniform> u: Params;
${xs}
@group(0) @binding(${1 + slots}) var<storage, read_write> partials: array<f32>;
var<workgroup> acc: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u.workgroups) { return; }
${slotOfWorkgroup(slots)}
  let sl = u.slots[s];
  let start = (w - sl.first) * ${WORKGROUP}u + lid;
  let stride = sl.groups * ${WORKGROUP}u;
  var s2 = 0.0;
  switch s {
${cases}
  }
  acc[lid] = s2;
  workgroupBarrier();
  for (var k = ${WORKGROUP / 2}u; k > 0u; k >>= 1u) {
    if (lid < k) { acc[lid] += acc[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[u.base + w] = acc[0]; }
}`;
};

/**
 * `Σ_t Σ t²` over dense f32 tensors of one WebGPU backend, as a one-element
 * tensor: each tensor's workgroups write their partial sums into a shared
 * buffer, then one `sum` reduces it. Up to K tensors share a dispatch (K
 * from the device's storage-binding limit, see `multi-tensor.ts`). How a
 * tensor is cut into workgroups and where its partials go do not depend on
 * K, so the result is the same bits for any K (one tensor per dispatch
 * included). The composed form runs a square, one or two reductions and a
 * scalar add per tensor (and writes, then reads, a squared copy). Null when
 * fusion is off or a tensor does not qualify (another backend, f16, a strided
 * view): the caller composes.
 */
export function fusedSumOfSquares(ts: readonly Tensor[]): Tensor | null {
  const backend = ts[0]?.backend;
  if (!fusedGradNorm.enabled || !(backend instanceof WebGPUBackend)) return null;
  const dense = (t: Tensor) =>
    t.backend === backend && t.dtype === 'f32' && t.size > 0 && (t.isContiguous || isDenseView(t));
  if (!ts.every(dense)) return null;
  const items = ts.map((t) => ({
    t,
    buffer: gpuBufferOf(t.storage.buffer),
    groups: Math.min(Math.ceil(t.size / (8 * WORKGROUP)), MAX_GROUPS),
  }));
  const partials = empty(backend, [items.reduce((a, b) => a + b.groups, 0)], 'f32');
  const out = gpuBufferOf(partials.storage.buffer);
  const slots = slotsFor(backend.runtime, 1, 1);
  let base = 0;
  // Tensors only read: one buffer may appear in several slots (slices of one packed gradient).
  for (const chunk of chunks(items, slots, () => [])) {
    const u32 = new Uint32Array(4 + 4 * chunk.length);
    let workgroups = 0;
    chunk.forEach(({ t, groups }, k) => {
      u32.set([t.size, t.offset, workgroups, groups], 4 + 4 * k);
      workgroups += groups;
    });
    u32[0] = base;
    u32[1] = workgroups;
    backend.runtime.dispatch({
      pipelineKey: `trainer.sumsq|f32|k=${chunk.length}`,
      makeCode: () => wgsl(chunk.length),
      bindings: [...chunk.map(({ buffer }) => ({ buffer })), { buffer: out, write: true }],
      uniforms: u32,
      workgroups,
    });
    base += workgroups;
  }
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
