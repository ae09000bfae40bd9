import type { BackendBuffer } from '../backend.js';
import type { DType } from '../dtype.js';
import { GpuError } from '../errors.js';

/** A WebGPU backend buffer: `length` elements of `dtype` in a pooled `GPUBuffer` (which may be larger). */
export class WebGPUBuffer implements BackendBuffer {
  /** Set by `free`; a freed buffer must not be used again. */
  released = false;
  constructor(
    readonly gpu: GPUBuffer,
    readonly length: number,
    readonly dtype: DType,
  ) {}
}

/**
 * The `GPUBuffer` behind a WebGPU backend buffer, for code that binds tensor
 * storage in its own dispatches (e.g. research kernels via `GpuRuntime.dispatch`).
 */
export function gpuBufferOf(buffer: BackendBuffer): GPUBuffer {
  if (!(buffer instanceof WebGPUBuffer)) throw new GpuError('expected a buffer of the WebGPU backend');
  if (buffer.released) throw new GpuError('buffer used after free');
  return buffer.gpu;
}
