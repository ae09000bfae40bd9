import { availableParallelism } from 'node:os';
import { type Backend, CpuBackend } from '@dynconv/tensor';
import { Context, Effect, Layer } from 'effect';
import { DeviceError } from '../errors.js';
import { type AdamWUpdate, composedAdamWUpdate } from '../optim/adamw.js';
import { openWebGpu, type WebGpuProbe } from './webgpu.js';

/** What a run computes on. */
export interface DeviceShape {
  readonly kind: 'cpu' | 'webgpu';
  readonly backend: Backend;
  /** One line for logs, e.g. `cpu (2 cores)` or `webgpu: NVIDIA H100 (vulkan)`. */
  readonly description: string;
  /** A hardware GPU (not a software rasterizer such as llvmpipe). */
  readonly hardwareGpu: boolean;
  /** The AdamW update for this backend: a fused kernel where there is one, else the composed reference. */
  readonly adamwUpdate: AdamWUpdate;
}

/** The device choice in a run config. */
export type DeviceChoice = 'auto' | 'cpu' | 'webgpu';

const cpuDevice = (): DeviceShape => ({
  kind: 'cpu',
  backend: new CpuBackend(),
  description: `cpu (${availableParallelism()} cores)`,
  hardwareGpu: false,
  adamwUpdate: composedAdamWUpdate,
});

/**
 * The GPU device service. `auto` takes a hardware GPU when one is present;
 * without one, Dawn's software adapter (llvmpipe) when it can be opened
 * (see {@link SOFTWARE_WEBGPU_BEATS_CPU}), else the CPU reference backend.
 */
export class Device extends Context.Service<Device, DeviceShape>()('@dynconv/trainer/Device') {
  static readonly layerCpu: Layer.Layer<Device> = Layer.sync(Device, cpuDevice);

  /** Opens the chosen device; WebGPU devices are destroyed when the layer is released. */
  static readonly layer = (choice: DeviceChoice): Layer.Layer<Device, DeviceError> =>
    Layer.effect(Device, acquireDevice(choice));
}

/**
 * Whether `auto` takes a software WebGPU adapter (llvmpipe) over the CPU
 * backend. Measured with `dynconv bench` (default `mqar-dsc`) on a 2-core VM
 * without a GPU: 457 ms per training step on llvmpipe against 749 ms on the
 * single-threaded CPU reference backend (llvmpipe uses every core), so yes.
 */
export const SOFTWARE_WEBGPU_BEATS_CPU = true;

/** Opens the device for `choice` in the current scope. */
export const acquireDevice = (choice: DeviceChoice) =>
  Effect.gen(function* () {
    if (choice === 'cpu') return cpuDevice();
    const gpu: WebGpuProbe | null = yield* openWebGpu(choice === 'webgpu');
    if (gpu && (choice === 'webgpu' || gpu.hardware || SOFTWARE_WEBGPU_BEATS_CPU)) {
      yield* Effect.addFinalizer(() => Effect.sync(() => gpu.close()));
      return {
        kind: 'webgpu',
        backend: gpu.backend,
        description: `webgpu: ${gpu.description}`,
        hardwareGpu: gpu.hardware,
        adamwUpdate: gpu.adamwUpdate,
      } satisfies DeviceShape;
    }
    if (gpu) yield* Effect.sync(() => gpu.close());
    if (choice === 'webgpu') return yield* new DeviceError({ device: 'webgpu', reason: 'no WebGPU adapter' });
    return cpuDevice();
  });
