import { empty, slotOfWorkgroup, type Tensor } from '@dynconv/tensor';
import type { GpuRuntime } from '@dynconv/tensor/node';
import { type AdamWUpdate, type AdamWUpdateArgs, composedAdamWUpdate } from './adamw.js';
import { CONTROL } from './device-step-webgpu.js';
import { chunks, slotsFor } from './multi-tensor.js';

/**
 * AdamW as WGSL dispatches that read p, g, m, v once and write p, m, v in
 * place (the composed version runs ~12 elementwise kernels and allocates as
 * many temporaries). Same arithmetic order as {@link composedAdamWUpdate},
 * which is its reference (see the test).
 *
 * One dispatch takes up to K parameters (4·K storage bindings, K from the
 * device's limits, see `multi-tensor.ts`): the host records ~40-60 µs per
 * dispatch on the H100 machine, and a model has hundreds of small
 * parameters. The per-element arithmetic does not depend on K, so every K
 * gives bitwise-identical results (tested).
 *
 * With a device step control (`AdamW.stepOnDevice`), the gradient factor,
 * bias corrections and skip flag come from its control buffer instead of the
 * uniforms (one more binding: K drops by one on 16-binding devices).
 */

const WORKGROUP = 256;

/** Where the step's scalars come from: the uniforms (host) or the control buffer (device). */
type Source = 'host' | 'device';

/** The update of element `i` of slot `k` (bindings p{k}, g{k}, m{k}, v{k}). */
const slotBody = (k: number): string => /* wgsl */ `
      let gi = g${k}[i] * grad_scale;
      let mi = u.beta1 * m${k}[i] + (1.0 - u.beta1) * gi;
      let vi = u.beta2 * v${k}[i] + (1.0 - u.beta2) * (gi * gi);
      m${k}[i] = mi;
      v${k}[i] = vi;
      let denom = sqrt(vi) * inv_sqrt_bias2 + u.eps;
      p${k}[i] = p${k}[i] * decay - step_size * (mi / denom);`;

const scalars: Record<Source, string> = {
  host: /* wgsl */ `
  let grad_scale = u.grad_scale;
  let step_size = u.step_size;
  let inv_sqrt_bias2 = u.inv_sqrt_bias2;`,
  device: /* wgsl */ `
  if (ctl[${CONTROL.skip}] != 0.0) { return; }
  let grad_scale = ctl[${CONTROL.factor}];
  let step_size = u.lr * ctl[${CONTROL.invBias1}];
  let inv_sqrt_bias2 = ctl[${CONTROL.invSqrtBias2}];`,
};

/**
 * `slots` parameters in one dispatch: slot k owns workgroups
 * [first_k, first_{k+1}), one element per invocation.
 */
const adamwWgsl = (slots: number, source: Source): string => {
  const bindings = Array.from({ length: slots }, (_, k) =>
    ['p', 'g', 'm', 'v']
      .map(
        (name, j) =>
          `@group(0) @binding(${1 + 4 * k + j}) var<storage, ${name === 'g' ? 'read' : 'read_write'}> ${name}${k}: array<f32>;`,
      )
      .join('\n'),
  ).join('\n');
  const control =
    source === 'device'
      ? `@group(0) @binding(${1 + 4 * slots}) var<storage, read> ctl: array<f32, ${CONTROL.words}>;`
      : '';
  const cases = Array.from(
    { length: slots },
    (_, k) => `    ${k === slots - 1 ? 'default' : `case ${k}u`}: {${slotBody(k)}
    }`,
  ).join('\n');
  return /* wgsl */ `
struct Slot { n: u32, first: u32, decay: f32, pad: u32 }
struct Params {
  grad_scale: f32,     // clipping factor (host source)
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32,      // lr / (1 - beta1^t) (host source)
  inv_sqrt_bias2: f32, // 1 / sqrt(1 - beta2^t) (host source)
  workgroups: u32,     // sum over the slots
  lr: f32,             // (device source)
  slots: array<Slot, ${slots}>,
}
@group(0) @binding(0) var<uniform> u: Params;
${bindings}
${control}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u.workgroups) { return; }
${scalars[source]}
${slotOfWorkgroup(slots)}
  let i = (w - u.slots[s].first) * ${WORKGROUP}u + lid;
  if (i >= u.slots[s].n) { return; }
  let decay = u.slots[s].decay;
  switch s {
${cases}
  }
}`;
};

/** The `GPUBuffer` behind a WebGPU tensor (its storage must start at element 0 and hold exactly it). */
const wholeBuffer = (t: Tensor): GPUBuffer | null => {
  const b = t.storage.buffer as unknown as { gpu?: GPUBuffer; length: number };
  return b.gpu && t.dtype === 'f32' && t.isContiguous && b.length === t.size ? b.gpu : null;
};

interface Fusable {
  readonly a: AdamWUpdateArgs;
  readonly buffers: readonly [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
}

/** p, g, m, v as whole f32 buffers, or null (a view, f16: the composed update takes it). */
const fusable = (a: AdamWUpdateArgs): Fusable | null => {
  const p = wholeBuffer(a.p);
  const g = wholeBuffer(a.g);
  const m = wholeBuffer(a.m);
  const v = wholeBuffer(a.v);
  return p && g && m && v ? { a, buffers: [p, g, m, v] } : null;
};

/**
 * One dispatch for the parameters of `chunk`. The shared hyper-parameters
 * come from the first; the decay is per slot (groups differ).
 */
function dispatchChunk(runtime: GpuRuntime, chunk: readonly Fusable[], control: GPUBuffer | null): void {
  const slots = chunk.length;
  const source: Source = control ? 'device' : 'host';
  const uniforms = new ArrayBuffer(32 + 16 * slots);
  const u32 = new Uint32Array(uniforms);
  const f32 = new Float32Array(uniforms);
  const a = chunk[0]!.a;
  f32[0] = a.gradScale;
  f32[1] = a.beta1;
  f32[2] = a.beta2;
  f32[3] = a.eps;
  f32[4] = a.lr / a.bias1;
  f32[5] = 1 / Math.sqrt(a.bias2);
  f32[7] = a.lr;
  let workgroups = 0;
  for (let k = 0; k < slots; k++) {
    const ak = chunk[k]!.a;
    u32[8 + 4 * k] = ak.p.size;
    u32[9 + 4 * k] = workgroups;
    f32[10 + 4 * k] = 1 - ak.lr * ak.weightDecay;
    workgroups += Math.ceil(ak.p.size / WORKGROUP);
  }
  u32[6] = workgroups;
  runtime.dispatch({
    pipelineKey: `trainer.adamw|f32|k=${slots}|${source}`,
    makeCode: () => adamwWgsl(slots, source),
    bindings: [
      ...chunk.flatMap(({ buffers: [p, g, m, v] }) => [
        { buffer: p, write: true },
        { buffer: g },
        { buffer: m, write: true },
        { buffer: v, write: true },
      ]),
      ...(control ? [{ buffer: control }] : []),
    ],
    uniforms: u32,
    workgroups,
  });
}

/**
 * Whether two updates share every hyper-parameter but the weight decay (one
 * dispatch can take both). `Object.is`: a device-decided step passes NaN for
 * the scalars it does not use.
 */
const sameStep = (x: AdamWUpdateArgs, y: AdamWUpdateArgs): boolean =>
  x.control === y.control &&
  (['lr', 'gradScale', 'beta1', 'beta2', 'eps', 'bias1', 'bias2'] as const).every((k) =>
    Object.is(x[k], y[k]),
  );

/** The control buffer of a device-decided update (null: host scalars). */
const controlOf = (a: AdamWUpdateArgs): GPUBuffer | null => {
  if (!a.control) return null;
  const buffer = wholeBuffer(a.control);
  if (!buffer) throw new TypeError('AdamW: the step control must be a whole f32 tensor');
  return buffer;
};

/**
 * The fused update on `runtime`. With host scalars, tensors it cannot take
 * whole (views, f16) use the composed update. Its `batch` puts up to K
 * parameters in one dispatch (K = 1 on a device with too few storage
 * bindings, or with `DYNCONV_OPTIM_SLOTS=1`: one dispatch each).
 */
export const makeFusedAdamWUpdate = (runtime: GpuRuntime): AdamWUpdate => {
  const batch = (items: readonly AdamWUpdateArgs[]) => {
    const fused: Fusable[] = [];
    // Contiguous copies of view gradients (device-decided steps), freed once their dispatch is recorded.
    const copies: Tensor[] = [];
    const outs = items.map((a) => {
      let f = fusable(a);
      if (!f && a.control && wholeBuffer(a.p) && a.g.dtype === 'f32') {
        const g = empty(a.g.backend, a.g.shape, 'f32');
        a.g.backend.copy(a.g.view(), g.view());
        copies.push(g);
        f = fusable({ ...a, g });
      }
      if (!f) {
        if (a.control)
          throw new TypeError(
            `AdamW.stepOnDevice: parameter of shape [${a.p.shape.join(', ')}] (${a.p.dtype}) is not a whole f32 buffer`,
          );
        return composedAdamWUpdate(a);
      }
      if (fused.length > 0 && !sameStep(fused[0]!.a, a)) flush(fused.splice(0), runtime);
      fused.push(f);
      return { m: a.m, v: a.v };
    });
    flush(fused, runtime);
    for (const g of copies) g.dispose();
    return outs;
  };
  const one = (a: AdamWUpdateArgs) => batch([a])[0]!;
  return Object.assign(one, { batch });
};

/** Dispatches `fused` (all sharing one step's scalars) in chunks of the device's slot count. */
function flush(fused: readonly Fusable[], runtime: GpuRuntime): void {
  if (fused.length === 0) return;
  const control = controlOf(fused[0]!.a);
  const slots = slotsFor(runtime, 4, control ? 1 : 0);
  for (const chunk of chunks(fused, slots, (f) => f.buffers)) dispatchChunk(runtime, chunk, control);
}
