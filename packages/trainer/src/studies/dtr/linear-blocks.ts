import { type AnyMixer, mixers } from '@dynconv/architectures';
import { namedParameters } from '@dynconv/layers';
import { type Backend, Generator, noGrad, type Tensor } from '@dynconv/tensor';
import { Schema } from 'effect';
import type { LinearMixer } from './config.js';

/** The teacher attention's shape, which the linear module matches ("same hidden size", DtR §3.1). */
export interface AttentionShape {
  readonly dModel: number;
  readonly nHeads: number;
  readonly headDim: number;
}

/** The linear mixer's layer entry with the teacher's hidden size. */
export const linearEntry = (mixer: LinearMixer, shape: AttentionShape): { readonly mixer: string } => {
  const plugin = requireMixer(mixer);
  const raw =
    mixer === 'gated-deltanet'
      ? { mixer, nHeads: shape.nHeads, headDim: shape.headDim, expandV: 1 }
      : {
          mixer,
          nHeads: shape.nHeads,
          expandK: (shape.nHeads * shape.headDim) / shape.dModel,
          expandV: (shape.nHeads * shape.headDim) / shape.dModel,
        };
  const entry = Schema.decodeUnknownSync(plugin.configSchema)(raw) as { readonly mixer: string };
  const issues = plugin.validate(entry, { dModel: shape.dModel });
  if (issues.length > 0)
    throw new Error(`${mixer} with the teacher's shape: ${issues.map((i) => i.message).join('; ')}`);
  return entry;
};

export const requireMixer = (name: string): AnyMixer => {
  if (!mixers.has(name))
    throw new Error(`the '${name}' mixer is not registered; registered: ${mixers.list().join(', ')}`);
  return mixers.get(name);
};

/** One distilled replacement per layer: its parameter tree and names under `model.layers.{i}.{module}`. */
export interface LinearBlocks {
  readonly mixer: AnyMixer;
  readonly entry: { readonly mixer: string };
  readonly trees: readonly unknown[];
  /** Every student parameter, by its name in a hybrid model. */
  readonly parameters: ReadonlyMap<string, Tensor>;
  /** Student parameters of layer i only. */
  layerParameters(i: number): Map<string, Tensor>;
  dispose(): void;
}

/**
 * Creates a fresh linear module for each of `layers` attention layers. With
 * `teacher` weights, projections named alike with equal shapes (q/k/v/o_proj)
 * start as the attention's (warm start); everything else keeps its init.
 */
export const initLinearBlocks = (
  mixer: LinearMixer,
  shape: AttentionShape,
  layers: number,
  context: {
    readonly normEps: number;
    readonly initStd: number;
    readonly outStd: number;
    readonly backend: Backend;
    readonly seed: number;
  },
  teacher?: ReadonlyMap<string, Tensor>,
): LinearBlocks => {
  const plugin = requireMixer(mixer);
  const entry = linearEntry(mixer, shape);
  const generator = new Generator(context.seed);
  const ctx = { dModel: shape.dModel, ...context, generator };
  const trees = Array.from({ length: layers }, () => plugin.init(entry, ctx));
  const layerTrees = trees.map((tree) => ({ [plugin.moduleName]: tree }));
  const parameters = namedParameters({ model: { layers: layerTrees } });
  for (const p of parameters.values()) p.requireGrad();
  if (teacher) {
    noGrad(() => {
      for (const [name, p] of parameters) {
        const m = /^model\.layers\.(\d+)\.[^.]+\.([qkvo]_proj\.weight)$/.exec(name);
        const source = m ? teacher.get(`model.layers.${m[1]}.self_attn.${m[2]}`) : undefined;
        if (source && source.shape.join('x') === p.shape.join('x')) p.backend.copy(source.view(), p.view());
      }
    });
  }
  return {
    mixer: plugin,
    entry,
    trees,
    parameters,
    layerParameters: (i) =>
      new Map([...parameters].filter(([name]) => name.startsWith(`model.layers.${i}.`))),
    dispose: () => {
      for (const p of parameters.values()) p.dispose();
    },
  };
};
