/**
 * Node-only entry (`@dynconv/tensor/node`): creates a WebGPU device through
 * Dawn's `webgpu` package. Vulkan when an NVIDIA GPU is present, else Mesa's
 * llvmpipe through OpenGL ES (CI and laptops without a GPU).
 */
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/backend.js';
import { GpuError } from './errors.js';
import { WebGPUBackend, type WebGPUBackendOptions } from './webgpu/backend.js';
import { type MatmulCaps, probeMatmulCaps, SUBGROUP_MATRIX_FEATURE } from './webgpu/kernels/matmul-caps.js';

export type NodeGpuBackend = 'vulkan' | 'opengles' | 'opengl' | 'metal' | 'd3d12' | 'null';

export interface NodeGpuDeviceOptions {
  /** Dawn backend; default `DYNCONV_WEBGPU_BACKEND`, else vulkan when /dev/nvidia0 exists, else opengles. */
  readonly backend?: NodeGpuBackend;
  /** Extra Dawn toggles (`enable-dawn-features`), e.g. `disable_robustness`. */
  readonly enableToggles?: readonly string[];
  /** Dawn toggles to turn off (`disable-dawn-features`), e.g. `timestamp_quantization`. */
  readonly disableToggles?: readonly string[];
  /**
   * Optional features requested when the adapter offers them (default:
   * shader-f16, subgroups, timestamp-query, chromium-experimental-subgroup-matrix).
   */
  readonly optionalFeatures?: readonly GPUFeatureName[];
  /**
   * Dawn's robustness transform (bounds clamping of every storage/workgroup
   * access) and zero-initialisation of workgroup memory. Default: off on
   * Vulkan (the GPU training path: +6% matmul, up to 2x on strided
   * reductions; our kernels mask their own bounds), on elsewhere;
   * `DYNCONV_WEBGPU_ROBUSTNESS=1` forces it on. With it off, an out-of-bounds
   * access in a kernel is undefined behaviour (typically a lost device)
   * instead of a clamped read.
   */
  readonly robustness?: boolean;
}

export interface NodeGpuDevice {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
  readonly backend: NodeGpuBackend;
  /** Features enabled on the device. */
  readonly features: readonly string[];
  /** Whether Dawn's robustness transform is on (see {@link NodeGpuDeviceOptions.robustness}). */
  readonly robustness: boolean;
  /** What the matmul variants can use (subgroup matrices probed: builtin spelling and a numerical check). */
  readonly matmulCaps: MatmulCaps;
}

// Subgroup matrices (tensor cores from WGSL) need `subgroups`; Dawn offers them on Vulkan with `allow_unsafe_apis`.
const DEFAULT_FEATURES: readonly GPUFeatureName[] = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
  SUBGROUP_MATRIX_FEATURE as GPUFeatureName,
];

/** Limits a compute workload needs; the device gets the adapter's maxima (compat-mode defaults are far lower). */
const COMPUTE_LIMITS = [
  'maxBindGroups',
  'maxBindingsPerBindGroup',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxDynamicStorageBuffersPerPipelineLayout',
  'maxDynamicUniformBuffersPerPipelineLayout',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxUniformBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
] as const;

/** GOTCHA: the object from `create()` must outlive its devices, or the process dies at the next GC. */
const owners = new WeakMap<GPUDevice, GPU>();

const processEnv = (): Record<string, string | undefined> => process.env;

const defaultBackend = (): NodeGpuBackend => {
  const fromEnv = processEnv().DYNCONV_WEBGPU_BACKEND;
  if (fromEnv) return fromEnv as NodeGpuBackend;
  return existsSync('/dev/nvidia0') ? 'vulkan' : 'opengles';
};

/**
 * Creates a Dawn device in Node. Vulkan gets `allow_unsafe_apis` and
 * `vulkan_enable_f16_on_nvidia` (exposes shader-f16 and subgroup-matrix),
 * unquantized timestamps and, by default, no robustness transform;
 * opengles sets `EGL_PLATFORM=surfaceless` if unset and asks for a
 * compatibility-mode adapter. The device gets the adapter's compute limits
 * and the optional features it offers.
 */
export async function requestNodeGpuDevice(options: NodeGpuDeviceOptions = {}): Promise<NodeGpuDevice> {
  const backend = options.backend ?? defaultBackend();
  const env = processEnv();
  if (backend === 'opengles' || backend === 'opengl') {
    env.EGL_PLATFORM ??= 'surfaceless';
    env.XDG_RUNTIME_DIR ??= '/tmp';
  }
  Object.assign(globalThis, globals);
  const robustness = options.robustness ?? (env.DYNCONV_WEBGPU_ROBUSTNESS === '1' || backend !== 'vulkan');
  const enable = [
    ...(backend === 'vulkan' ? ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'] : []),
    ...(robustness ? [] : ['disable_robustness', 'disable_workgroup_init']),
    ...(options.enableToggles ?? []),
  ];
  // Full-resolution GPU timestamps (Dawn quantizes them for the web).
  const disable = [
    ...(backend === 'vulkan' ? ['timestamp_quantization'] : []),
    ...(options.disableToggles ?? []),
  ];
  const args = [`backend=${backend}`];
  if (enable.length > 0) args.push(`enable-dawn-features=${enable.join(',')}`);
  if (disable.length > 0) args.push(`disable-dawn-features=${disable.join(',')}`);
  const gpu = create(args);
  const adapter = await gpu.requestAdapter(
    backend === 'opengles' || backend === 'opengl'
      ? { featureLevel: 'compatibility' }
      : { powerPreference: 'high-performance' },
  );
  if (!adapter)
    throw new GpuError(
      `Dawn found no ${backend} adapter (${backend === 'opengles' ? 'Mesa EGL/GLES packages installed? EGL_PLATFORM=surfaceless?' : 'driver and Vulkan loader present?'})`,
    );
  const requiredLimits: Record<string, number> = {};
  for (const name of COMPUTE_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (value !== undefined) requiredLimits[name] = value;
  }
  const wanted = options.optionalFeatures ?? DEFAULT_FEATURES;
  const requiredFeatures = wanted.filter(
    (f) =>
      adapter.features.has(f) &&
      ((f as string) !== SUBGROUP_MATRIX_FEATURE || adapter.features.has('subgroups')),
  );
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  owners.set(device, gpu);
  const matmulCaps = await probeMatmulCaps(device, adapter.info);
  return {
    device,
    adapterInfo: adapter.info,
    backend,
    features: [...device.features],
    robustness,
    matmulCaps,
  };
}

export interface NodeWebGPUBackendOptions
  extends NodeGpuDeviceOptions,
    Omit<WebGPUBackendOptions, 'onDestroy'> {}

/** A {@link WebGPUBackend} on a new Node device; `destroy()` also destroys the device. */
export async function createNodeWebGPUBackend(
  options: NodeWebGPUBackendOptions = {},
): Promise<WebGPUBackend> {
  const { device } = await requestNodeGpuDevice(options);
  return new WebGPUBackend(device, { ...options, onDestroy: () => device.destroy() });
}

export { WebGPUBackend } from './webgpu/backend.js';
export type { KernelTime } from './webgpu/dispatch-profiler.js';
export { GpuRuntime } from './webgpu/runtime.js';

export type BackendChoice = 'auto' | 'cpu' | 'webgpu';

/**
 * The backend for this process. `DYNCONV_BACKEND=cpu|webgpu` (or `options.prefer`)
 * forces one; `auto` takes WebGPU — a real GPU when present, otherwise Mesa
 * llvmpipe — and falls back to the CPU reference only when no adapter exists.
 * The API option wins over the environment variable.
 */
export async function createBackend(
  options: NodeWebGPUBackendOptions & { prefer?: BackendChoice } = {},
): Promise<Backend> {
  const env = process.env['DYNCONV_BACKEND'];
  const choice = options.prefer ?? (env === 'cpu' || env === 'webgpu' ? env : 'auto');
  if (env && env !== 'cpu' && env !== 'webgpu' && env !== 'auto')
    throw new Error(`DYNCONV_BACKEND must be cpu, webgpu or auto, got '${env}'`);
  if (choice === 'cpu') return new CpuBackend();
  try {
    return await createNodeWebGPUBackend(options);
  } catch (e) {
    if (choice === 'webgpu') throw e;
    process.emitWarning(`dynconv: no WebGPU adapter (${(e as Error).message}); using the CPU backend`);
    return new CpuBackend();
  }
}
