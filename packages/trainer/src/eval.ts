import { Effect } from 'effect';
import { openCheckpointModel } from './checkpoint/open-model.js';
import { makeTrainData } from './data/TrainData.js';
import type { DeviceChoice } from './device/Device.js';
import { type EvalResult, evaluate } from './train/evaluate.js';

/** Result of `dynconv eval`. */
export interface CheckpointEval extends EvalResult {
  readonly checkpoint: string;
  readonly step: number;
  readonly task: 'recall' | 'lm';
  readonly device: string;
}

/** Evaluates a checkpoint on its run's evaluation set. */
export const evaluateCheckpoint = (
  path: string,
  options: { readonly device?: DeviceChoice | undefined } = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { checkpoint, resolved, device, model } = yield* openCheckpointModel(path, options.device);
      const data = yield* makeTrainData(resolved.config);
      const result = yield* Effect.promise(() =>
        evaluate(model.model, data.evalBatches(), device.backend, data.task === 'lm'),
      );
      return {
        ...result,
        checkpoint: checkpoint.path,
        step: checkpoint.state.step,
        task: data.task,
        device: device.description,
      } satisfies CheckpointEval;
    }),
  );
