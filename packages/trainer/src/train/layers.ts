import { Layer } from 'effect';
import { CheckpointStore } from '../checkpoint/CheckpointStore.js';
import { TrainData } from '../data/TrainData.js';
import type { Device } from '../device/Device.js';
import type { DataError, DeviceError } from '../errors.js';
import { MetricsSink, type MetricsSinkShape } from '../metrics/MetricsSink.js';
import type { Architectures } from '../model/Architectures.js';
import { Model } from '../model/Model.js';
import { Optimizer } from '../optim/Optimizer.js';
import { RunContext, type RunContextShape } from './RunContext.js';

/** The layers a training run is assembled from; tests swap any of them. */
export interface TrainerLayers {
  readonly device: Layer.Layer<Device, DeviceError>;
  readonly architectures: Layer.Layer<Architectures>;
  readonly sinks: readonly MetricsSinkShape[];
  /** Default: the run config's data. */
  readonly data?: Layer.Layer<TrainData, DataError>;
}

/**
 * Every service `train` needs for the run in `ctx`: device, architecture
 * registry, model, optimizer, data, checkpoint store and metrics sinks.
 */
export const trainerLayer = (ctx: RunContextShape, layers: TrainerLayers) => {
  const base = Layer.mergeAll(RunContext.layer(ctx), layers.device, layers.architectures);
  const model = Model.layer.pipe(Layer.provideMerge(base));
  const optimizer = Optimizer.layer.pipe(Layer.provideMerge(model));
  return Layer.mergeAll(
    optimizer,
    layers.data ?? TrainData.layer(ctx.config),
    CheckpointStore.layer(ctx.runDir, ctx.config.checkpoint),
    MetricsSink.layer(...layers.sinks),
  );
};
