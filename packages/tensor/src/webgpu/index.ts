/**
 * WebGPU backend (browser-safe; Node device creation lives in `@dynconv/tensor/node`).
 */
export { WebGPUBackend, type WebGPUBackendOptions } from './backend.js';
export { gpuBufferOf, WebGPUBuffer } from './buffer.js';
export type { KernelTime } from './dispatch-profiler.js';
export { erfApprox, geluErf } from './kernels/erf.js';
export { mathWgsl } from './kernels/math.wgsl.js';
export type { MatmulTuning } from './kernels/matmul.js';
export { type MatmulCaps, matmulCaps } from './kernels/matmul-caps.js';
export type { SgMatShape, SgMatSyntax } from './kernels/matmul-sgmat.wgsl.js';
export { slotOfWorkgroup, slotsPerDispatch } from './multi-slot.js';
export {
  type DispatchSpec,
  GpuRuntime,
  type GpuRuntimeOptions,
  type RuntimeStats,
  type StorageBinding,
  type Workgroups,
} from './runtime.js';
export { type UniformField, UniformStruct, type UniformType, uniformElement } from './uniforms.js';
export { enableF16, linearWorkgroupIndex, mainParams } from './wgsl.js';
