import { type Backend, type DType, empty, type Tensor } from '@dynconv/tensor';

/** One storage binding of a dispatch (`@binding(1 + i)`); mirrors the tensor runtime's `StorageBinding`. */
export interface Binding {
  readonly buffer: GPUBuffer;
  readonly write?: boolean;
}

/** One dispatch; mirrors the tensor runtime's `DispatchSpec` (uniforms at `@binding(0)`, entry point `main`). */
export interface Dispatch {
  readonly pipelineKey: string;
  readonly makeCode: () => string;
  readonly bindings: readonly Binding[];
  readonly uniforms: ArrayBufferView;
  readonly workgroups: number | readonly [number, number?, number?];
}

/** The part of the tensor package's `GpuRuntime` the launchers use (structurally typed, so no deep import). */
export interface KernelRuntime {
  readonly device: GPUDevice;
  readonly maxWorkgroupsPerDimension: number;
  dispatch(spec: Dispatch): void;
}

/** The WebGPU backend's runtime, or null on other backends. */
export function runtimeOf(backend: Backend): KernelRuntime | null {
  if (backend.name !== 'webgpu') return null;
  const runtime = (backend as unknown as { runtime?: KernelRuntime }).runtime;
  return runtime && typeof runtime.dispatch === 'function' ? runtime : null;
}

/**
 * The `GPUBuffer` behind a (contiguous, offset 0) tensor on the WebGPU backend
 * (its `WebGPUBuffer.gpu`; read structurally so the browser entry needs no deep import).
 */
export function gpuBuffer(t: Tensor): GPUBuffer {
  const b = t.storage.buffer as unknown as { gpu?: GPUBuffer; released?: boolean };
  if (!b.gpu) throw new Error('kernels-webgpu: expected a buffer of the WebGPU backend');
  if (b.released) throw new Error('kernels-webgpu: buffer used after free');
  return b.gpu;
}

/** Whether the device can run kernels on `dtype` storage (f16 needs `shader-f16`). */
export const supportsDType = (runtime: KernelRuntime, dtype: DType): boolean =>
  dtype === 'f32' || (dtype === 'f16' && runtime.device.features.has('shader-f16'));

/** A new contiguous tensor the kernel fully writes. */
export const output = (backend: Backend, shape: readonly number[], dtype: DType): Tensor =>
  empty(backend, shape, dtype);

/**
 * A 1-D count of work items split into a 2-D grid `[x, y]` within the
 * per-dimension limit; kernels read the item as `wid.x + wid.y * u.gridX`.
 */
export function foldGrid(count: number, limit: number): { grid: [number, number]; gridX: number } {
  if (count <= limit) return { grid: [Math.max(count, 1), 1], gridX: Math.max(count, 1) };
  const y = Math.ceil(count / limit);
  const x = Math.ceil(count / y);
  return { grid: [x, y], gridX: x };
}
