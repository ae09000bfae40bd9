import type { Tensor } from '@dynconv/tensor';
import type { GpuRuntime } from '@dynconv/tensor/node';
import { type AdamWUpdate, composedAdamWUpdate } from './adamw.js';

/**
 * AdamW as one WGSL dispatch per parameter: reads p, g, m, v once and writes
 * p, m, v in place (the composed version runs ~12 elementwise kernels and
 * allocates as many temporaries). Same arithmetic order as
 * {@link composedAdamWUpdate}, which is its reference (see the test).
 */

const WORKGROUP = 256;

const WGSL = /* wgsl */ `
struct Params {
  n: u32,
  decay: f32,        // 1 - lr * weight_decay
  grad_scale: f32,   // clipping factor
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32,    // lr / (1 - beta1^t)
  inv_sqrt_bias2: f32, // 1 / sqrt(1 - beta2^t)
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (i >= u.n) { return; }
  let gi = g[i] * u.grad_scale;
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * gi;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) * u.inv_sqrt_bias2 + u.eps;
  p[i] = p[i] * u.decay - u.step_size * (mi / denom);
}`;

/** The `GPUBuffer` behind a WebGPU tensor (its storage must start at element 0 and hold exactly it). */
const wholeBuffer = (t: Tensor): GPUBuffer | null => {
  const b = t.storage.buffer as unknown as { gpu?: GPUBuffer; length: number };
  return b.gpu && t.dtype === 'f32' && t.isContiguous && b.length === t.size ? b.gpu : null;
};

/** The fused update on `runtime`; tensors it cannot take whole (views, f16) use the composed update. */
export const makeFusedAdamWUpdate =
  (runtime: GpuRuntime): AdamWUpdate =>
  (a) => {
    const p = wholeBuffer(a.p);
    const g = wholeBuffer(a.g);
    const m = wholeBuffer(a.m);
    const v = wholeBuffer(a.v);
    if (!p || !g || !m || !v) return composedAdamWUpdate(a);
    const uniforms = new ArrayBuffer(32);
    const u32 = new Uint32Array(uniforms);
    const f32 = new Float32Array(uniforms);
    u32[0] = a.p.size;
    f32[1] = 1 - a.lr * a.weightDecay;
    f32[2] = a.gradScale;
    f32[3] = a.beta1;
    f32[4] = a.beta2;
    f32[5] = a.eps;
    f32[6] = a.lr / a.bias1;
    f32[7] = 1 / Math.sqrt(a.bias2);
    runtime.dispatch({
      pipelineKey: 'trainer.adamw|f32',
      makeCode: () => WGSL,
      bindings: [
        { buffer: p, write: true },
        { buffer: g },
        { buffer: m, write: true },
        { buffer: v, write: true },
      ],
      uniforms: u32,
      workgroups: Math.ceil(a.p.size / WORKGROUP),
    });
    return { m: a.m, v: a.v };
  };
