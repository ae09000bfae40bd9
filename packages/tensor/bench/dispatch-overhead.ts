/**
 * Host cost of one dispatch through each layer of the WebGPU backend, with
 * every pipeline and bind group already cached: `GpuRuntime.dispatch` alone,
 * then `WebGPUBackend.unary` / `.binary` (launcher + runtime). Nothing is
 * submitted while a loop records (one submit and a wait between loops), so on
 * llvmpipe no kernel runs on the CPUs being measured. Reports the fastest of
 * 12 loops of 3000 dispatches: the steady-state cost, not the noise of a
 * shared machine. Complements `host-recording.ts` (whole steps, cache misses).
 *
 * Run (from packages/tensor):
 *   node --conditions=@dynconv/source --experimental-strip-types bench/run.ts dispatch-overhead
 */
import type { View } from '../src/backend.js';
import { requestNodeGpuDevice } from '../src/node.js';
import { WebGPUBackend } from '../src/webgpu/backend.js';
import type { WebGPUBuffer } from '../src/webgpu/buffer.js';
import { gpuBufferOf } from '../src/webgpu/buffer.js';

const opened = await requestNodeGpuDevice();
const b = new WebGPUBackend(opened.device, { poison: false, maxBatchDispatches: 1 << 30 });
const rt = b.runtime;
const n = 256;
const bufs: WebGPUBuffer[] = Array.from({ length: 8 }, () => b.alloc(n, 'f32'));
const gpu = bufs.map((x) => gpuBufferOf(x));
const uniforms = new Uint32Array([n, 0, 0, 0]);
const code = () => `struct P { n: u32, a: u32, b: u32, c: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) { if (i.x < u.n) { y[i.x] = x[i.x]; } }`;
const view = (x: WebGPUBuffer): View => ({ buffer: x, dtype: 'f32', shape: [n], strides: [1], offset: 0 });

const cases: [string, (i: number) => void][] = [
  [
    'GpuRuntime.dispatch',
    (i) =>
      rt.dispatch({
        pipelineKey: 'bench.copy',
        makeCode: code,
        bindings: [{ buffer: gpu[i & 3]! }, { buffer: gpu[4 + (i & 3)]!, write: true }],
        uniforms,
        workgroups: n / 64,
      }),
  ],
  ['WebGPUBackend.unary (affine)', (i) => b.unary('affine', view(bufs[i & 3]!), bufs[4 + (i & 3)]!, 1, 1)],
  [
    'WebGPUBackend.binary (add)',
    (i) => b.binary('add', view(bufs[i & 3]!), view(bufs[(i + 1) & 3]!), bufs[4 + (i & 3)]!),
  ],
];
const count = 3000;
const best = cases.map(() => Number.POSITIVE_INFINITY);
for (let rep = 0; rep < 15; rep++)
  for (const [k, [, run]] of cases.entries()) {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) run(i);
    const ms = performance.now() - t0;
    await b.sync();
    if (rep >= 3) best[k] = Math.min(best[k]!, ms); // the first loops compile and warm the JIT
  }
const created = rt.stats().bindGroupsCreated;
for (const [k, [name]] of cases.entries())
  console.log(`${name.padEnd(32)} ${((best[k]! * 1000) / count).toFixed(2).padStart(6)} µs/dispatch`);
console.log(`bind groups created: ${created ?? 'n/a'} (for ${cases.length * count * 15} dispatches)`);
for (const x of bufs) b.free(x);
b.destroy();
opened.device.destroy();
