import { loadParameters, registry, type StackSpec } from '@dynconv/architectures';
import type { Backend, Tensor } from '@dynconv/tensor';
import { Schema } from 'effect';
import type { HostTensor } from '../../checkpoint/tensor-file.js';
import type { ArchitectureV1, ModelV1 } from '../../model/spec.js';
import type { LinearBlocks } from './linear-blocks.js';

/**
 * The `hybrid` plugin config of the teacher with `replaced` layers swapped
 * for the linear module: same embedding, norms and MLPs, attention entries
 * taken from the teacher's own stack.
 */
export const hybridConfigFor = (
  teacherConfig: Record<string, unknown>,
  teacherStack: StackSpec,
  linearEntry: { readonly mixer: string },
  replaced: readonly number[],
): Record<string, unknown> => {
  const mlp = teacherStack.layers[0]?.mlp ?? null;
  if (teacherStack.layers.some((l) => l.mlp?.convs))
    throw new Error('DtR needs a teacher without MLP convolutions (not dynamic-all-linear)');
  return {
    vocabSize: teacherStack.vocabSize,
    dModel: teacherStack.dModel,
    mlp: mlp ? mlp.kind : 'none',
    ...(mlp ? { mlpHidden: mlp.hidden } : {}),
    tieEmbeddings: teacherStack.tieEmbeddings,
    normEps: teacherStack.normEps,
    initStd: teacherStack.initStd,
    scaledOutputInit: teacherConfig['scaledOutputInit'] ?? true,
    layers: teacherStack.layers.map((l, i) => (replaced.includes(i) ? linearEntry : l.config)),
  };
};

/**
 * Builds the hybrid model with `replaced` layers linear: teacher weights
 * everywhere, the distilled modules' weights in the replaced layers.
 */
export const buildCandidate = (
  config: Record<string, unknown>,
  teacherWeights: ReadonlyMap<string, HostTensor>,
  students: LinearBlocks,
  backend: Backend,
): ModelV1 => {
  const hybrid = registry.get('hybrid') as ArchitectureV1<unknown>;
  const model = hybrid.build(Schema.decodeUnknownSync(hybrid.configSchema)(config), { backend });
  const entries = new Map(
    [...teacherWeights].map(([name, t]) => [
      name,
      { dtype: t.dtype === 'i32' ? ('I32' as const) : ('F32' as const), shape: t.shape, data: t.data },
    ]),
  );
  const { missing } = loadParameters(model.parameters, entries, { strict: false });
  for (const name of missing) {
    const source: Tensor | undefined = students.parameters.get(name);
    const target = model.parameters.get(name)!;
    if (!source) {
      model.dispose();
      throw new Error(`no teacher or student weight for ${name}`);
    }
    target.backend.copy(source.view(), target.view());
  }
  return model;
};
