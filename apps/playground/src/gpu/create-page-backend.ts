import { type Backend, WebGPUBackend } from '@dynconv/tensor';
import type { GpuDeviceHandle } from './request-gpu-device.js';

/**
 * The tensor backend the page computes on: `WebGPUBackend` over the page's own
 * `GPUDevice`. Buffer poisoning stays off (its default outside tests).
 */
export function createPageBackend(gpu: GpuDeviceHandle): Backend {
  return new WebGPUBackend(gpu.device);
}
