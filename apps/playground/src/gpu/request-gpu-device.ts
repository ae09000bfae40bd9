/** A `GPUDevice` from the page's `navigator.gpu`, plus what to show about it. */
export interface GpuDeviceHandle {
  readonly device: GPUDevice;
  /** e.g. "nvidia / ampere" or "google / swiftshader". */
  readonly description: string;
  readonly features: readonly string[];
}

/** Features the tensor backend uses when present (f16 storage, subgroup reductions). */
const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'subgroups'];

/**
 * Asks the browser for the best GPU it has and a device with that adapter's
 * full limits (the defaults cap storage buffers at 128 MiB). Throws an error
 * that tells the user what to do when WebGPU is missing.
 */
export async function requestGpuDevice(): Promise<GpuDeviceHandle> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new Error(
      window.isSecureContext
        ? 'This browser has no WebGPU (navigator.gpu). Use Chrome or Edge 113+; on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.'
        : 'WebGPU needs a secure context: open the page from http://localhost or https.',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new Error(
      'navigator.gpu offered no adapter: the GPU is blocklisted or WebGPU is disabled (see chrome://gpu).',
    );
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: adapterLimits(adapter),
  });
  const info = adapter.info;
  const description = [info.vendor, info.architecture, info.device, info.description]
    .filter(Boolean)
    .join(' / ');
  return { device, description: description || 'unknown adapter', features: [...device.features] };
}

/** Every numeric limit of the adapter, as `requiredLimits` accepts them. */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its limits as prototype getters, not own properties.
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}
