import { Context, Effect, Layer } from 'effect';
import { Device } from '../device/Device.js';
import { ModelError } from '../errors.js';
import { RunContext } from '../train/RunContext.js';
import { Architectures } from './Architectures.js';
import type { ArchitectureV1, ModelV1 } from './spec.js';

/** A built model with the plugin and config it came from. */
export interface ModelShape {
  readonly architecture: ArchitectureV1<unknown>;
  readonly config: unknown;
  readonly model: ModelV1;
  /** Parameters the optimizer updates (all of them unless the plugin froze some). */
  readonly trainable: ReadonlyMap<string, import('@dynconv/tensor').Tensor>;
  readonly parameterCount: number;
}

/**
 * Builds `architecture` with `config` on `backend`: parameters are initialised
 * from `seed` and marked trainable when the plugin left them all unmarked.
 */
export const buildModel = (
  architecture: ArchitectureV1<unknown>,
  config: unknown,
  backend: import('@dynconv/tensor').Backend,
  seed: number,
): Effect.Effect<ModelShape, ModelError> =>
  Effect.try({
    try: () => {
      const model = architecture.build(config, { backend, seed });
      const params = [...model.parameters];
      if (!params.some(([, p]) => p.requiresGrad)) for (const [, p] of params) p.requireGrad();
      const trainable = new Map(params.filter(([, p]) => p.requiresGrad));
      const parameterCount = params.reduce((n, [, p]) => n + p.size, 0);
      return { architecture, config, model, trainable, parameterCount };
    },
    catch: (e) =>
      new ModelError({ architecture: architecture.name, reason: `build failed: ${(e as Error).message}` }),
  });

/** The model service: built from the registry for the run config; disposed with the layer. */
export class Model extends Context.Service<Model, ModelShape>()('@dynconv/trainer/Model') {
  static readonly layer: Layer.Layer<
    Model,
    ModelError | import('../errors.js').UnknownArchitecture,
    RunContext | Architectures | Device
  > = Layer.effect(
    Model,
    Effect.gen(function* () {
      const { config, modelConfig } = yield* RunContext;
      const architectures = yield* Architectures;
      const device = yield* Device;
      const architecture = yield* architectures.get(config.model.architecture);
      return yield* Effect.acquireRelease(
        buildModel(architecture, modelConfig, device.backend, config.seed),
        (m) => Effect.sync(() => m.model.dispose()),
      );
    }),
  );
}
