import type { WebGPUBackend } from '@dynconv/tensor';
import { Effect } from 'effect';
import type { RunConfig } from '../config/schema.js';
import type { DeviceShape } from '../device/Device.js';
import { DeviceError } from '../errors.js';
import type { AdamW } from '../optim/adamw.js';
import { DeviceStepControl, type LossScalerState } from '../optim/device-step-webgpu.js';

/**
 * The run's device step control (WebGPU with the fused AdamW; null on the
 * CPU), disposed with the scope, and the mixed-precision switch: `mixed`
 * turns on f16 tensor-core matmuls on the backend and dynamic loss scaling.
 * Created after a resume restored the optimizer, so it continues its step
 * count and, from the checkpoint, the loss scale.
 */
export const deviceStepControl = (
  device: DeviceShape,
  config: RunConfig,
  adamw: AdamW,
  /** A resumed run's loss scaler (from its checkpoint). */
  scaler?: LossScalerState,
) =>
  Effect.gen(function* () {
    const mixed = config.precision === 'mixed';
    if (device.kind !== 'webgpu' || !adamw.canStepOnDevice) {
      if (mixed)
        return yield* new DeviceError({
          device: device.description,
          reason: "precision 'mixed' needs the WebGPU device with the fused AdamW",
        });
      return null;
    }
    const backend = device.backend as WebGPUBackend;
    if (mixed) backend.tuning.matmul = { reducedPrecision: true };
    const o = config.optimizer;
    return yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new DeviceStepControl(
            backend,
            {
              maxNorm: o.gradClip,
              beta1: o.beta1,
              beta2: o.beta2,
              ...(mixed ? { lossScale: config.lossScale } : {}),
            },
            { stepsTaken: adamw.stepCount, ...(scaler ? { scaler } : {}) },
          ),
      ),
      (control) =>
        Effect.sync(() => {
          control.dispose();
          if (mixed) backend.tuning.matmul = {};
        }),
    );
  });
