import type { Backend } from '@dynconv/tensor';
import { Effect } from 'effect';
import { DeviceError } from '../errors.js';
import type { AdamWUpdate } from '../optim/adamw.js';

/** An opened WebGPU backend and what kind of adapter is behind it. */
export interface WebGpuProbe {
  readonly backend: Backend;
  readonly description: string;
  /** False for software adapters (llvmpipe, SwiftShader, lavapipe). */
  readonly hardware: boolean;
  readonly adamwUpdate: AdamWUpdate;
  readonly adapterInfo: GPUAdapterInfo;
  readonly features: readonly string[];
  readonly limits: GPUSupportedLimits;
  readonly dawnBackend: string;
  close(): void;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software/i;

/** Whether an adapter is a software rasterizer rather than a GPU. */
export const isSoftwareAdapter = (info: GPUAdapterInfo): boolean =>
  Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) ||
  SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);

/** e.g. `NVIDIA H100 80GB HBM3 (vulkan)` or `llvmpipe-llvm-15-0-6-256-bits, OpenGL ES 3.2 Mesa 22.3.6 (opengles)`. */
export const describeAdapter = (info: GPUAdapterInfo, backend: string): string => {
  const name = [info.vendor, info.architecture, info.device.replace(/-+$/, '')].filter(Boolean).join(' ');
  const detail = info.description.replace(/^OpenGL version /, '');
  return `${[name, detail].filter(Boolean).join(', ') || 'unknown adapter'} (${backend})`;
};

/**
 * Opens Dawn's WebGPU (loaded lazily: CPU runs never load the native module)
 * and a backend on it, or returns null when there is no adapter; with
 * `required`, no adapter is an error.
 */
export const openWebGpu = (required: boolean): Effect.Effect<WebGpuProbe | null, DeviceError> =>
  Effect.tryPromise({
    try: async (): Promise<WebGpuProbe | null> => {
      const node = await import('@dynconv/tensor/node');
      let gpu: Awaited<ReturnType<typeof node.requestNodeGpuDevice>>;
      try {
        gpu = await node.requestNodeGpuDevice();
      } catch (e) {
        if (required) throw e;
        return null;
      }
      const backend = new node.WebGPUBackend(gpu.device, { onDestroy: () => gpu.device.destroy() });
      const { makeFusedAdamWUpdate } = await import('../optim/adamw-webgpu.js');
      return {
        backend,
        description: describeAdapter(gpu.adapterInfo, gpu.backend),
        hardware: !isSoftwareAdapter(gpu.adapterInfo),
        adamwUpdate: makeFusedAdamWUpdate(backend.runtime),
        adapterInfo: gpu.adapterInfo,
        features: gpu.features,
        limits: gpu.device.limits,
        dawnBackend: gpu.backend,
        close: () => backend.destroy(),
      };
    },
    catch: (e) => new DeviceError({ device: 'webgpu', reason: (e as Error).message }),
  });
