import { Context, Effect, Layer } from 'effect';
import { Device } from '../device/Device.js';
import { Model } from '../model/Model.js';
import { RunContext } from '../train/RunContext.js';
import { AdamW } from './adamw.js';
import { type ParamGroup, paramGroups } from './param-groups.js';

/** The optimizer of a run. */
export interface OptimizerShape {
  readonly adamw: AdamW;
  readonly groups: readonly ParamGroup[];
}

/** The optimizer service: AdamW over the model's trainable parameters, with decay groups. */
export class Optimizer extends Context.Service<Optimizer, OptimizerShape>()('@dynconv/trainer/Optimizer') {
  static readonly layer: Layer.Layer<Optimizer, never, Model | RunContext | Device> = Layer.effect(
    Optimizer,
    Effect.gen(function* () {
      const { config } = yield* RunContext;
      const model = yield* Model;
      const device = yield* Device;
      const o = config.optimizer;
      const groups = paramGroups(model.trainable, model.model.noDecay, o.weightDecay, o.noDecay);
      return yield* Effect.acquireRelease(
        Effect.sync(() => ({
          adamw: new AdamW(
            model.trainable,
            groups,
            { beta1: o.beta1, beta2: o.beta2, eps: o.eps },
            device.adamwUpdate,
          ),
          groups,
        })),
        (opt) => Effect.sync(() => opt.adamw.dispose()),
      );
    }),
  );
}
