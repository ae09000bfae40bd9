import { availableParallelism, cpus, totalmem } from 'node:os';
import { Effect } from 'effect';
import { SOFTWARE_WEBGPU_BEATS_CPU } from './device/Device.js';
import { isSoftwareAdapter, openWebGpu } from './device/webgpu.js';

/** What `dynconv devices` reports. */
export interface DeviceReport {
  readonly cpu: { readonly model: string; readonly cores: number; readonly memoryGiB: number };
  readonly webgpu:
    | {
        readonly available: true;
        readonly description: string;
        /** Dawn backend (vulkan, opengles, ...). */
        readonly backend: string;
        readonly hardware: boolean;
        readonly adapter: {
          readonly vendor: string;
          readonly architecture: string;
          readonly device: string;
          readonly description: string;
        };
        readonly features: readonly string[];
        readonly limits: Readonly<Record<string, number>>;
      }
    | { readonly available: false; readonly reason: string };
  /** What `device: auto` picks on this machine. */
  readonly autoPicks: 'cpu' | 'webgpu';
}

const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
] as const;

/** Probes the CPU and Dawn's WebGPU adapter (the device is closed again). */
export const describeDevices = (): Effect.Effect<DeviceReport> =>
  Effect.scoped(
    Effect.gen(function* () {
      const cpu = {
        model: cpus()[0]?.model.trim() ?? 'unknown',
        cores: availableParallelism(),
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      };
      const probe = yield* Effect.result(openWebGpu(true));
      if (probe._tag === 'Failure' || probe.success === null)
        return {
          cpu,
          webgpu: {
            available: false,
            reason: probe._tag === 'Failure' ? probe.failure.reason : 'no adapter',
          },
          autoPicks: 'cpu',
        } as const;
      const gpu = probe.success;
      const limits: Record<string, number> = {};
      for (const name of LIMIT_NAMES) limits[name] = (gpu.limits as unknown as Record<string, number>)[name]!;
      const info = gpu.adapterInfo;
      const report: DeviceReport = {
        cpu,
        webgpu: {
          available: true,
          description: gpu.description,
          backend: gpu.dawnBackend,
          hardware: !isSoftwareAdapter(info),
          adapter: {
            vendor: info.vendor,
            architecture: info.architecture,
            device: info.device,
            description: info.description,
          },
          features: [...gpu.features].sort(),
          limits,
        },
        autoPicks: gpu.hardware || SOFTWARE_WEBGPU_BEATS_CPU ? 'webgpu' : 'cpu',
      };
      gpu.close();
      return report;
    }),
  );
