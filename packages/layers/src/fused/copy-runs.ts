import { empty, type GpuRuntime, slotOfWorkgroup, slotsPerDispatch, type Tensor } from '@dynconv/tensor';
import { bufferOf, fusedRuntime, WORKGROUP } from './gpu.js';

/**
 * Several contiguous copies in one dispatch: the weight concatenation of the
 * fused linear layers (q|k|v|generators, gate|up) and its backward split into
 * per-parameter gradients. Concatenating 7 small weights took 7 dispatches
 * forward and 6 backward per layer, ~12 µs each on the H100, mostly fixed cost.
 * `gather`: K sources into one destination; `scatter`: one source into K
 * destinations. Run k owns workgroups [first_k, first_{k+1}); WGSL cannot
 * index bindings, so each run is a `switch` case naming its binding.
 */
type Direction = 'gather' | 'scatter';

/** Runs per dispatch: one binding each besides the shared one, at most 15 (the H100 and llvmpipe bind 16). */
const maxRuns = (rt: GpuRuntime): number => slotsPerDispatch(rt, 1, 1, 15);

const wgsl = (direction: Direction, runs: number): string => {
  const many = Array.from(
    { length: runs },
    (_, k) =>
      `@group(0) @binding(${1 + k}) var<storage, ${direction === 'gather' ? 'read' : 'read_write'}> x${k}: array<f32>;`,
  ).join('\n');
  const one = `@group(0) @binding(${1 + runs}) var<storage, ${direction === 'gather' ? 'read_write' : 'read'}> y: array<f32>;`;
  const cases = Array.from({ length: runs }, (_, k) => {
    const body =
      direction === 'gather'
        ? `y[r.dstOff + i] = x${k}[r.srcOff + i];`
        : `x${k}[r.dstOff + i] = y[r.srcOff + i];`;
    return `    ${k === runs - 1 ? 'default' : `case ${k}u`}: { ${body} }`;
  }).join('\n');
  return /* wgsl */ `
struct Run { n: u32, srcOff: u32, dstOff: u32, first: u32 }
struct Params { workgroups: u32, pad0: u32, pad1: u32, pad2: u32, runs: array<Run, ${runs}> }
@group(0) @binding(0) var<uniform> u: Params;
${many}
${one}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u.workgroups) { return; }
${slotOfWorkgroup(runs, 'u.runs')}
  let r = u.runs[s];
  let i = (w - r.first) * ${WORKGROUP}u + lid;
  if (i >= r.n) { return; }
  switch s {
${cases}
  }
}`;
};

interface Run {
  readonly many: Tensor;
  readonly n: number;
  readonly srcOff: number;
  readonly dstOff: number;
}

function dispatchRuns(rt: GpuRuntime, direction: Direction, runs: readonly Run[], shared: Tensor): void {
  const u32 = new Uint32Array(4 + 4 * runs.length);
  let workgroups = 0;
  runs.forEach((r, k) => {
    u32.set([r.n, r.srcOff, r.dstOff, workgroups], 4 + 4 * k);
    workgroups += Math.ceil(r.n / WORKGROUP);
  });
  u32[0] = workgroups;
  rt.dispatch({
    pipelineKey: `layers.copyRuns|${direction}|k=${runs.length}`,
    makeCode: () => wgsl(direction, runs.length),
    bindings: [
      ...runs.map((r) => ({ buffer: bufferOf(r.many), write: direction === 'scatter' })),
      { buffer: bufferOf(shared), write: direction === 'gather' },
    ],
    uniforms: u32,
    workgroups,
  });
}

/** Row-major strides (the elements are `t.size` consecutive ones from `t.offset`). */
const denseFromOffset = (t: Tensor): boolean => {
  let expect = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i]! > 1 && t.strides[i] !== expect) return false;
    expect *= t.shape[i]!;
  }
  return true;
};

/** Contiguous f32 WebGPU tensors in buffers of their own (none shared with `other`), or null. */
const runtimeFor = (ts: readonly Tensor[]): GpuRuntime | null => {
  const rt = ts.length > 0 ? fusedRuntime(ts[0]!) : null;
  if (!rt) return null;
  const buffers = new Set<GPUBuffer>();
  for (const t of ts) {
    if (fusedRuntime(t) !== rt || !denseFromOffset(t) || t.size === 0) return null;
    const b = bufferOf(t);
    if (buffers.has(b)) return null;
    buffers.add(b);
  }
  return rt;
};

/**
 * `concat(ts, 0)` of contiguous f32 WebGPU tensors `[r_i, ...rest]` as
 * `[Σ r_i, ...rest]`, in one dispatch per 15 inputs; null where it does not
 * apply (the caller concatenates). No autograd record.
 */
export function concatRows(ts: readonly Tensor[]): Tensor | null {
  const rt = runtimeFor(ts);
  if (
    !rt ||
    ts.some((t) => t.rank !== ts[0]!.rank || t.shape.slice(1).join() !== ts[0]!.shape.slice(1).join())
  )
    return null;
  const rows = ts.reduce((n, t) => n + t.shape[0]!, 0);
  const out = empty(ts[0]!.backend, [rows, ...ts[0]!.shape.slice(1)], 'f32');
  let dst = 0;
  const runs = ts.map((t) => {
    const r = { many: t, n: t.size, srcOff: t.offset, dstOff: dst };
    dst += t.size;
    return r;
  });
  const k = maxRuns(rt);
  for (let i = 0; i < runs.length; i += k) dispatchRuns(rt, 'gather', runs.slice(i, i + k), out);
  return out;
}

/**
 * `g [Σ r_i, ...rest]` (contiguous f32 WebGPU) split along dim 0 into new
 * tensors `[r_i, ...rest]` (buffers of their own), in one dispatch per 15
 * outputs; null where it does not apply.
 */
export function splitRows(g: Tensor, rows: readonly number[]): Tensor[] | null {
  const rt = runtimeFor([g]);
  if (!rt || g.rank === 0 || rows.reduce((a, b) => a + b, 0) !== g.shape[0]) return null;
  const rest = g.shape.slice(1);
  const width = rest.reduce((a, b) => a * b, 1);
  const outs = rows.map((r) => empty(g.backend, [r, ...rest], 'f32'));
  let src = g.offset;
  const runs = outs.flatMap((t) => {
    const r = { many: t, n: t.size, srcOff: src, dstOff: 0 };
    src += t.shape[0]! * width;
    return t.size > 0 ? [r] : [];
  });
  const k = maxRuns(rt);
  for (let i = 0; i < runs.length; i += k) dispatchRuns(rt, 'scatter', runs.slice(i, i + k), g);
  return outs;
}
