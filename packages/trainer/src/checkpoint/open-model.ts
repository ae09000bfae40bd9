import { Effect } from 'effect';
import { setPath } from '../config/overrides.js';
import { type ResolvedConfig, resolveConfig } from '../config/resolve.js';
import { acquireDevice, type DeviceChoice, type DeviceShape } from '../device/Device.js';
import { Architectures } from '../model/Architectures.js';
import { buildModel, type ModelShape } from '../model/Model.js';
import { checkModelFits, loadWeights } from '../train/snapshot.js';
import { type LoadedCheckpoint, readCheckpoint, resolveCheckpointPath } from './checkpoint-io.js';

/** A checkpoint's model, rebuilt and loaded on a device. */
export interface CheckpointModel {
  readonly checkpoint: LoadedCheckpoint;
  readonly resolved: ResolvedConfig;
  readonly device: DeviceShape;
  readonly model: ModelShape;
}

/**
 * Opens a checkpoint (a run folder or a checkpoint folder) in the current
 * scope: verifies it, rebuilds the model from its saved config on `device`
 * (default: the saved config's device) and loads the weights.
 */
export const openCheckpointModel = (path: string, device?: DeviceChoice) =>
  Effect.gen(function* () {
    const checkpoint = yield* readCheckpoint(yield* resolveCheckpointPath(path));
    const raw = device ? setPath(checkpoint.state.runConfig, ['device'], device) : checkpoint.state.runConfig;
    const resolved = yield* resolveConfig(raw, `${checkpoint.path}/state.json`);
    const dev = yield* acquireDevice(resolved.config.device);
    const architectures = yield* Architectures;
    const architecture = yield* architectures.get(resolved.config.model.architecture);
    const model = yield* Effect.acquireRelease(
      buildModel(architecture, resolved.modelConfig, dev.backend, resolved.config.seed),
      (m) => Effect.sync(() => m.model.dispose()),
    );
    yield* checkModelFits(checkpoint, resolved.config.model.architecture, resolved.modelConfig, model);
    loadWeights(checkpoint, model);
    return { checkpoint, resolved, device: dev, model } satisfies CheckpointModel;
  });
