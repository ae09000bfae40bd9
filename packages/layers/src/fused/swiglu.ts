import { empty, narrow, record, silu, type Tensor, tidy } from '@dynconv/tensor';
import { bufferOf, fusedRuntime, rowsOf, WORKGROUP } from './gpu.js';

/**
 * `silu(gate) ⊙ up` over `[..., F]` tensors (views with unit last stride
 * allowed). On WebGPU (f32) one kernel forward and one backward (writing
 * `dgate` and `dup`) instead of ~2 + ~8 elementwise dispatches.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.shape.length !== up.shape.length || gate.shape.some((d, i) => d !== up.shape[i]))
    throw new Error(`swiglu: gate [${gate.shape.join(', ')}] and up [${up.shape.join(', ')}] differ`);
  const rt = fusedRuntime(gate);
  if (!rt || up.dtype !== 'f32' || gate.backend !== up.backend) return swigluRef(gate, up);
  return tidy(() => {
    const g = rowsOf(gate) ? gate : gate.contiguous();
    const u = rowsOf(up) ? up : up.contiguous();
    return swigluFused(rt, [g, u], g, u, false);
  });
}

/**
 * `silu(gu[..., :F]) ⊙ gu[..., F:]` of a packed `[..., 2F]` tensor (the fused
 * gate/up projection). On WebGPU its backward writes the packed `dgu` in the
 * same kernel, so no concat of the two halves' gradients follows.
 */
export function swigluPacked(gu: Tensor): Tensor {
  const f2 = gu.shape[gu.rank - 1]!;
  if (gu.rank < 1 || f2 % 2 !== 0)
    throw new Error(`swigluPacked: last dim must be even; got [${gu.shape.join(', ')}]`);
  const F = f2 / 2;
  const rt = fusedRuntime(gu);
  if (!rt) return swigluRef(narrow(gu, -1, 0, F), narrow(gu, -1, F, F));
  return tidy(() => {
    const x = rowsOf(gu) ? gu : gu.contiguous();
    return swigluFused(rt, [x], narrow(x.detach(), -1, 0, F), narrow(x.detach(), -1, F, F), true);
  });
}

/** The composed reference (any backend and dtype). */
export const swigluRef = (gate: Tensor, up: Tensor): Tensor => tidy(() => silu(gate).mul(up));

const layout = (t: Tensor) => rowsOf(t)!;

function swigluFused(
  rt: NonNullable<ReturnType<typeof fusedRuntime>>,
  inputs: readonly Tensor[],
  gate: Tensor,
  up: Tensor,
  packed: boolean,
): Tensor {
  const F = gate.shape[gate.rank - 1]!;
  const g = layout(gate);
  const u = layout(up);
  const n = g.rows * F;
  const backend = gate.backend;
  const y = empty(backend, gate.shape, 'f32');
  const uniforms = new Uint32Array([n, F, g.rowStride, g.offset, u.rowStride, u.offset, 0, 0]);
  const workgroups = Math.ceil(n / WORKGROUP);
  rt.dispatch({
    pipelineKey: 'layers.swiglu.fwd',
    makeCode: () => swigluWgsl('fwd'),
    bindings: [{ buffer: bufferOf(gate) }, { buffer: bufferOf(up) }, { buffer: bufferOf(y), write: true }],
    uniforms,
    workgroups,
  });
  record(packed ? 'swigluPacked' : 'swiglu', inputs, [y], [gate, up], ([dy], [sg, su]) => {
    const d = dy!.contiguous();
    const bind = [{ buffer: bufferOf(sg!) }, { buffer: bufferOf(su!) }, { buffer: bufferOf(d) }];
    if (packed) {
      const dgu = empty(backend, inputs[0]!.shape, 'f32');
      rt.dispatch({
        pipelineKey: 'layers.swiglu.bwd-packed',
        makeCode: () => swigluWgsl('bwd-packed'),
        bindings: [...bind, { buffer: bufferOf(dgu), write: true }],
        uniforms,
        workgroups,
      });
      return [dgu];
    }
    const dg = empty(backend, gate.shape, 'f32');
    const du = empty(backend, gate.shape, 'f32');
    rt.dispatch({
      pipelineKey: 'layers.swiglu.bwd',
      makeCode: () => swigluWgsl('bwd'),
      bindings: [...bind, { buffer: bufferOf(dg), write: true }, { buffer: bufferOf(du), write: true }],
      uniforms,
      workgroups,
    });
    return [dg, du];
  });
  return y;
}

/** One thread per output element `(row, j)`; gate and up are strided rows of F. */
function swigluWgsl(kind: 'fwd' | 'bwd' | 'bwd-packed'): string {
  const io =
    kind === 'fwd'
      ? '@group(0) @binding(3) var<storage, read_write> y: array<f32>;'
      : `@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dg: array<f32>;
${kind === 'bwd' ? '@group(0) @binding(5) var<storage, read_write> du: array<f32>;' : ''}`;
  const body =
    kind === 'fwd'
      ? '  y[i] = g * s * x;'
      : `  let d = dy[i];
  let dgv = d * x * s * (1.0 + g * (1.0 - s));
  let duv = d * g * s;
${
  kind === 'bwd'
    ? '  dg[i] = dgv;\n  du[i] = duv;'
    : '  // Packed [rows, 2F]: dgate in the first half of the row, dup in the second.\n  dg[r * 2u * u.F + j] = dgv;\n  dg[r * 2u * u.F + u.F + j] = duv;'
}`;
  return /* wgsl */ `
struct Params { n: u32, F: u32, gStride: u32, gOff: u32, uStride: u32, uOff: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
${io}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (i >= u.n) { return; }
  let r = i / u.F;
  let j = i % u.F;
  let g = gate[u.gOff + r * u.gStride + j];
  let x = up[u.uOff + r * u.uStride + j];
  let s = 1.0 / (1.0 + exp(-g));
${body}
}`;
}
