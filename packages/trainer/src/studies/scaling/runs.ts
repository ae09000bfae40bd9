import { registry } from '@dynconv/architectures';
import { Schema } from 'effect';
import type { StudyRun } from '../common/study-plan.js';
import type { Rung, ScalingStudyConfig, ScalingVariant } from './config.js';

/** The architecture plugin and its config for a variant at a rung. */
export const variantModel = (
  variant: ScalingVariant,
  rung: Rung,
  vocabSize: number,
  dsc: ScalingStudyConfig['dsc'],
): { architecture: string; config: Record<string, unknown> } => {
  const common = { vocabSize, dModel: rung.dModel, nLayers: rung.nLayers };
  const dscConfig = {
    variant: 'low-rank',
    rank: dsc.rank,
    width: dsc.width,
    headSize: 16,
    staticFilter: true,
  };
  switch (variant) {
    case 'baseline':
    case 'static-qkv':
    case 'dsc-qkv':
    case 'dsc-all-linear': {
      const conv = {
        baseline: 'none',
        'static-qkv': 'static-qkv',
        'dsc-qkv': 'dynamic-qkv',
        'dsc-all-linear': 'dynamic-all-linear',
      }[variant];
      return {
        architecture: 'transformer',
        config: { ...common, nHeads: rung.nHeads, conv, dsc: dscConfig },
      };
    }
    case 'gdn-static':
    case 'gdn-dynamic':
      return {
        architecture: 'gated-deltanet',
        config: {
          ...common,
          nHeads: rung.nHeads,
          conv: variant === 'gdn-static' ? 'static' : 'dynamic',
          dsc: dscConfig,
        },
      };
    case 'mamba2-static':
    case 'mamba2-dynamic':
      return {
        architecture: 'mamba2',
        config: {
          ...common,
          headDim: Math.min(64, rung.dModel / rung.nHeads),
          conv: variant === 'mamba2-static' ? 'static' : 'dynamic',
          dsc: dscConfig,
        },
      };
  }
};

/** Parameter counts and honest training FLOPs of a model, from its plugin. */
export interface ModelCost {
  readonly parameters: number;
  readonly nonEmbeddingParameters: number;
  /** Training FLOPs per token (forward + backward, attention and convolutions included) at the study's seqLen. */
  readonly flopsPerToken: number;
}

export const modelCost = (
  model: { architecture: string; config: Record<string, unknown> },
  seqLen: number,
): ModelCost => {
  const plugin = registry.get(model.architecture);
  const decoded = Schema.decodeUnknownSync(plugin.configSchema)(model.config);
  const parameters = plugin.parameterCount(decoded);
  const c = decoded as { vocabSize: number; dModel: number; tieEmbeddings?: boolean };
  const embedding = c.vocabSize * c.dModel * (c.tieEmbeddings === false ? 2 : 1);
  return {
    parameters,
    nonEmbeddingParameters: parameters - embedding,
    flopsPerToken: plugin.flopsPerToken(decoded, seqLen),
  };
};

/**
 * Every run of the ladder: variants × rungs × seeds, each trained on
 * `tokensPerParameter × non-embedding parameters` tokens of the corpus.
 * Labels carry the cost, so the fit needs nothing but the results.
 * `vocabSize` is the corpus tokenizer's.
 */
export const scalingRuns = (config: ScalingStudyConfig, vocabSize: number): StudyRun[] => {
  const tokensPerStep = config.batchSize * config.seqLen;
  return config.variants.flatMap((variant) =>
    config.rungs.flatMap((rung, rungIndex) => {
      const model = variantModel(variant, rung, vocabSize, config.dsc);
      const cost = modelCost(model, config.seqLen);
      const steps = Math.max(
        10,
        Math.ceil((config.tokensPerParameter * cost.nonEmbeddingParameters) / tokensPerStep),
      );
      const tokens = steps * tokensPerStep;
      return config.seeds.map((seed) => ({
        config: {
          name: `${config.name}-${variant}-r${rungIndex}-s${seed}`,
          device: config.device,
          seed,
          steps,
          model,
          data: { kind: 'corpus', path: config.corpus, validationFraction: 0.05 },
          batch: { size: config.batchSize, seqLen: config.seqLen },
          optimizer: { lr: rung.lr, weightDecay: config.weightDecay, gradClip: 1 },
          schedule: {
            kind: 'cosine',
            warmupSteps: Math.round(steps * config.warmupFraction),
            minLrRatio: 0.1,
          },
          eval: { every: 0, batches: config.evalBatches },
          checkpoint: { every: Math.max(50, Math.round(steps / 4)), keepLast: 1, keepBest: false },
          logEvery: Math.max(1, Math.round(steps / 50)),
        },
        labels: {
          variant,
          rung: rungIndex,
          size: `d${rung.dModel}-L${rung.nLayers}`,
          seed,
          parameters: cost.parameters,
          nonEmbeddingParameters: cost.nonEmbeddingParameters,
          flopsPerToken: cost.flopsPerToken,
          tokens,
          compute: cost.flopsPerToken * tokens,
        },
      }));
    }),
  );
};
