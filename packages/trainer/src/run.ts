import { dirname, join, resolve } from 'node:path';
import { Effect, Layer } from 'effect';
import { type LoadedCheckpoint, readCheckpoint, resolveCheckpointPath } from './checkpoint/checkpoint-io.js';
import { loadRawConfig } from './config/load.js';
import { DEFAULT_PRESET } from './config/presets.js';
import { type ResolvedConfig, resolveConfig } from './config/resolve.js';
import { acquireDevice, Device, type DeviceShape } from './device/Device.js';
import { CheckpointError } from './errors.js';
import { consoleSink, jsonlSink, type MetricsSinkShape } from './metrics/MetricsSink.js';
import { Architectures } from './model/Architectures.js';
import { trainerLayer } from './train/layers.js';
import { METRICS_FILE } from './train/run-dir.js';
import { canonicalJson } from './train/snapshot.js';
import { type TrainSummary, train } from './train/Trainer.js';

/** What `dynconv train` asks for. */
export interface TrainRequest {
  /** A named preset (default: `mqar-dsc` unless a config file or a resume gives the config). */
  readonly preset?: string | undefined;
  /** A `.json` / `.ts` config file. */
  readonly configFile?: string | undefined;
  /** `path=value` overrides. */
  readonly sets?: readonly string[];
  /** Continue a run: its folder, its `checkpoints/` folder or one checkpoint folder. */
  readonly resume?: string | undefined;
  /** Where the run's files go (default `runs/<name>-<date>`, or the resumed run's folder). */
  readonly runDir?: string | undefined;
  /** Stop (with a checkpoint) after this step. */
  readonly stopAt?: number | undefined;
  /** Print the live progress line (default true). */
  readonly progress?: boolean;
  /** Stream for progress lines (default stderr). */
  readonly progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Additional sinks (tests, custom reporting). */
  readonly sinks?: readonly MetricsSinkShape[];
  /** Called once the device is open and the config resolved (e.g. to print a header). */
  readonly onStart?: (info: {
    config: ResolvedConfig;
    device: DeviceShape;
    runDir: string;
    resumedFrom: number;
  }) => void;
}

const timestamp = (d = new Date()): string =>
  d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** The run folder of a checkpoint folder `<run>/checkpoints/step-X`. */
const runDirOfCheckpoint = (checkpointPath: string): string => dirname(dirname(checkpointPath));

/**
 * Resolves the config (preset / file / overrides, or a checkpoint's saved
 * config), opens the device, assembles the trainer layers and trains. Nothing
 * is written before the config, the device and (when resuming) the
 * checkpoint have been validated.
 */
export const runTraining = (request: TrainRequest) =>
  Effect.scoped(
    Effect.gen(function* () {
      let checkpoint: LoadedCheckpoint | undefined;
      if (request.resume !== undefined) {
        const path = yield* resolveCheckpointPath(request.resume);
        checkpoint = yield* readCheckpoint(path);
      }
      const sources = {
        preset: request.preset,
        file: request.configFile,
        sets: request.sets ?? [],
        base: checkpoint?.state.runConfig,
      };
      // Validate first (CPU sizes), then open the device the config asks for;
      // on a hardware GPU presets size themselves up, so resolve again.
      const source = sourceName(request);
      const firstRaw = yield* loadRawConfig({ ...sources, gpu: false });
      let resolved = yield* resolveConfig(firstRaw, source);
      const device = yield* acquireDevice(resolved.config.device);
      if (device.hardwareGpu)
        resolved = yield* resolveConfig(yield* loadRawConfig({ ...sources, gpu: true }), source);
      if (checkpoint) yield* checkCheckpointConfig(checkpoint, resolved);

      const runDir = resolve(
        request.runDir ??
          (checkpoint
            ? runDirOfCheckpoint(checkpoint.path)
            : join('runs', `${resolved.config.name}-${timestamp()}`)),
      );
      const sinks: MetricsSinkShape[] = [jsonlSink(join(runDir, METRICS_FILE))];
      if (request.progress !== false)
        sinks.push(
          consoleSink({
            totalSteps: resolved.config.steps,
            task: resolved.config.data.kind === 'corpus' ? 'lm' : 'recall',
            ...(request.progressStream ? { stream: request.progressStream } : {}),
          }),
        );
      sinks.push(...(request.sinks ?? []));
      request.onStart?.({ config: resolved, device, runDir, resumedFrom: checkpoint?.state.step ?? 0 });
      const layers = trainerLayer(
        { config: resolved.config, modelConfig: resolved.modelConfig, runDir },
        {
          device: Layer.succeed(Device, device),
          architectures: Layer.succeed(Architectures, yield* Architectures),
          sinks,
        },
      );
      return yield* train({ resumeFrom: checkpoint, stopAt: request.stopAt }).pipe(Effect.provide(layers));
    }),
  );

const sourceName = (r: TrainRequest): string =>
  [
    r.preset || (!r.configFile && !r.resume) ? `preset ${r.preset ?? DEFAULT_PRESET}` : undefined,
    r.configFile,
    r.resume ? `checkpoint ${r.resume}` : undefined,
    r.sets?.length ? 'overrides' : undefined,
  ]
    .filter(Boolean)
    .join(' + ');

/** A resumed run must build the same architecture with the same config as its checkpoint. */
const checkCheckpointConfig = (checkpoint: LoadedCheckpoint, resolved: ResolvedConfig) =>
  Effect.gen(function* () {
    const { state, path } = checkpoint;
    const arch = resolved.config.model.architecture;
    if (state.architecture !== arch)
      return yield* new CheckpointError({
        path,
        reason: 'mismatch',
        detail: `it was written by architecture '${state.architecture}', this run builds '${arch}'`,
      });
    if (canonicalJson(state.modelConfig) !== canonicalJson(resolved.modelConfig))
      return yield* new CheckpointError({
        path,
        reason: 'mismatch',
        detail: `its ${arch} config differs from this run's:\n    checkpoint: ${canonicalJson(state.modelConfig)}\n    this run:   ${canonicalJson(resolved.modelConfig)}`,
      });
  });

export type { TrainSummary };
