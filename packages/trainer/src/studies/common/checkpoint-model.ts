import { loadParameters, registry } from '@dynconv/architectures';
import type { Backend, Tensor } from '@dynconv/tensor';
import { Effect, Schema } from 'effect';
import {
  type LoadedCheckpoint,
  readCheckpoint,
  resolveCheckpointPath,
} from '../../checkpoint/checkpoint-io.js';
import type { HostTensor } from '../../checkpoint/tensor-file.js';
import { type RunConfig, RunConfig as RunConfigSchema } from '../../config/schema.js';
import type { ArchitectureV1, ModelV1 } from '../../model/spec.js';

/** A trained model read back from a checkpoint: what studies start from. */
export interface CheckpointBase {
  readonly path: string;
  readonly architecture: ArchitectureV1<unknown>;
  /** The plugin config as decoded when it was trained. */
  readonly modelConfig: Record<string, unknown>;
  /** The run config it was trained with (data, batch, seq len). */
  readonly runConfig: RunConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly step: number;
}

/** Reads a checkpoint (a run folder, its `checkpoints/`, or one checkpoint folder). */
export const readCheckpointBase = (path: string) =>
  Effect.gen(function* () {
    const resolved = yield* resolveCheckpointPath(path);
    const checkpoint: LoadedCheckpoint = yield* readCheckpoint(resolved);
    const architecture = registry.get(checkpoint.state.architecture) as ArchitectureV1<unknown>;
    const runConfig = Schema.decodeUnknownSync(RunConfigSchema)(checkpoint.state.runConfig);
    return {
      path: resolved,
      architecture,
      modelConfig: checkpoint.state.modelConfig as Record<string, unknown>,
      runConfig,
      weights: checkpoint.model,
      step: checkpoint.state.step,
    } satisfies CheckpointBase;
  });

/** Host tensors in the shape `loadParameters` reads. */
const asEntries = (weights: ReadonlyMap<string, HostTensor>) =>
  new Map(
    [...weights].map(([name, t]) => [
      name,
      { dtype: t.dtype === 'i32' ? ('I32' as const) : ('F32' as const), shape: t.shape, data: t.data },
    ]),
  );

/**
 * Builds `architecture` with `config` and copies every weight of `weights`
 * whose name exists in the new model. Returns the names the base did not
 * provide (the new parameters, e.g. pre-projection or distilled mixers).
 * Throws when the base has weights the new model lacks (a mismatched base).
 */
export const buildFromWeights = (
  architecture: ArchitectureV1<unknown>,
  config: unknown,
  weights: ReadonlyMap<string, HostTensor>,
  backend: Backend,
  seed = 0,
  options: { readonly allowUnused?: boolean } = {},
): { model: ModelV1; fresh: string[]; unused: string[] } => {
  const decoded = Schema.decodeUnknownSync(architecture.configSchema)(config);
  const model = architecture.build(decoded, { backend, seed });
  const { missing, unexpected } = loadParameters(model.parameters, asEntries(weights), { strict: false });
  if (unexpected.length > 0 && !options.allowUnused) {
    model.dispose();
    throw new Error(`the base has weights this model lacks: ${unexpected.slice(0, 5).join(', ')}`);
  }
  return { model, fresh: missing, unused: unexpected };
};

/** Marks exactly `names` as trainable (the rest frozen); returns them as a map. */
export const trainOnly = (model: ModelV1, names: Iterable<string>): Map<string, Tensor> => {
  const keep = new Set(names);
  const trainable = new Map<string, Tensor>();
  for (const [name, p] of model.parameters) {
    p.requireGrad(keep.has(name));
    if (keep.has(name)) trainable.set(name, p);
  }
  return trainable;
};
