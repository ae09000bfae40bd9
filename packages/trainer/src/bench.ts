import { performance } from 'node:perf_hooks';
import { Effect } from 'effect';
import { loadRawConfig } from './config/load.js';
import { setPath } from './config/overrides.js';
import { resolveConfig } from './config/resolve.js';
import { makeTrainData } from './data/TrainData.js';
import { acquireDevice } from './device/Device.js';
import { Architectures } from './model/Architectures.js';
import { buildModel } from './model/Model.js';
import { AdamW } from './optim/adamw.js';
import { paramGroups } from './optim/param-groups.js';
import { trainStep } from './train/step.js';

/** What `dynconv bench` measures. */
export interface BenchRequest {
  readonly preset?: string | undefined;
  readonly configFile?: string | undefined;
  readonly sets?: readonly string[];
  /** Devices to compare. */
  readonly devices: readonly ('cpu' | 'webgpu')[];
  /** Timed optimizer steps per device (after `warmup` untimed ones). */
  readonly steps: number;
  readonly warmup: number;
  /** Time the presets' GPU size instead of their CPU size (the same size on every device, so results compare). */
  readonly gpuSize?: boolean;
}

/** Training throughput of one device. */
export interface BenchResult {
  readonly device: string;
  readonly parameters: number;
  readonly tokensPerStep: number;
  readonly msPerStep: number;
  readonly tokensPerSec: number;
  /** Why the device could not be measured. */
  readonly error?: string;
}

/**
 * Times full training steps (forward, backward, clip, AdamW) of a run config
 * on each device, with the same model, data and seed.
 */
export const benchmark = (request: BenchRequest): Effect.Effect<BenchResult[], never, Architectures> =>
  Effect.forEach(request.devices, (choice) =>
    Effect.scoped(
      Effect.gen(function* () {
        const device = yield* acquireDevice(choice);
        const raw = yield* loadRawConfig({
          preset: request.preset,
          file: request.configFile,
          sets: request.sets ?? [],
          gpu: request.gpuSize ?? false,
        });
        const { config, modelConfig } = yield* resolveConfig(setPath(raw, ['device'], choice), 'bench');
        const architectures = yield* Architectures;
        const architecture = yield* architectures.get(config.model.architecture);
        const model = yield* Effect.acquireRelease(
          buildModel(architecture, modelConfig, device.backend, config.seed),
          (m) => Effect.sync(() => m.model.dispose()),
        );
        const data = yield* makeTrainData(config);
        const o = config.optimizer;
        const adamw = new AdamW(
          model.trainable,
          paramGroups(model.trainable, model.model.noDecay, o.weightDecay, o.noDecay),
          o,
          device.adamwUpdate,
        );
        yield* Effect.addFinalizer(() => Effect.sync(() => adamw.dispose()));
        const step = () =>
          trainStep({
            model: model.model,
            trainable: model.trainable,
            optimizer: adamw,
            backend: device.backend,
            batches: Array.from({ length: config.batch.gradAccumulation }, () => data.next()),
            lr: o.lr,
            gradClip: o.gradClip,
            withDocStart: data.task === 'lm',
          });
        const ms = yield* Effect.promise(async () => {
          for (let i = 0; i < request.warmup; i++) await step();
          const t0 = performance.now();
          for (let i = 0; i < request.steps; i++) await step();
          return (performance.now() - t0) / Math.max(1, request.steps);
        });
        const tokensPerStep = config.batch.size * config.batch.seqLen * config.batch.gradAccumulation;
        const result: BenchResult = {
          device: device.description,
          parameters: model.parameterCount,
          tokensPerStep,
          msPerStep: ms,
          tokensPerSec: (tokensPerStep * 1000) / ms,
        };
        return result;
      }),
    ).pipe(
      Effect.catch((e) =>
        Effect.succeed<BenchResult>({
          device: choice,
          parameters: 0,
          tokensPerStep: 0,
          msPerStep: Number.NaN,
          tokensPerSec: 0,
          error: (e as Error).message,
        }),
      ),
    ),
  );
