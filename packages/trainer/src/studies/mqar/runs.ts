import type { StudyRun } from '../common/study-plan.js';
import type { MqarStudyConfig, MqarTask, MqarVariant } from './config.js';

/** Key lengths of the variable-length-key task (method.md §8.2: 1–3 tokens). */
const VARIABLE_KEY_LENGTHS = { minKeyLength: 1, maxKeyLength: 3 } as const;

/**
 * The sequence length a task needs for N pairs, at least `seqLen`:
 * standard MQAR 4N (context + queries), compositional 6N (two-token keys),
 * variable-length keys N·(2·maxLen + 3) (delimiters). Even, as all tasks require.
 */
export const taskSeqLen = (task: MqarTask, seqLen: number, numKvPairs: number): number => {
  const need =
    task === 'mqar'
      ? 4 * numKvPairs
      : task === 'mqar-compositional'
        ? 6 * numKvPairs
        : numKvPairs * (2 * VARIABLE_KEY_LENGTHS.maxKeyLength + 3);
  const length = Math.max(seqLen, need);
  return length % 2 === 0 ? length : length + 1;
};

/** Compositional keys live on a √N×√N grid: N must be a perfect square. */
const compositionalPairs = (n: number): number => Math.max(1, Math.floor(Math.sqrt(n))) ** 2;

const attentionLayer = (config: MqarStudyConfig, variant: MqarVariant) => ({
  mixer: 'attention',
  nHeads: config.nHeads,
  rotaryFraction: config.rotaryFraction,
  conv: variant === 'none' ? 'none' : variant === 'static-qkv' ? 'static-qkv' : 'dynamic-qkv',
  dsc: {
    variant: variant === 'dynamic-head-wise' ? 'head-wise' : 'low-rank',
    rank: config.dsc.rank,
    width: config.dsc.width,
    headSize: config.dsc.headSize,
    staticFilter: true,
  },
});

/** One trainer run config of the study. */
export const mqarRunConfig = (
  config: MqarStudyConfig,
  cell: {
    task: MqarTask;
    variant: MqarVariant;
    dModel: number;
    seqLen: number;
    numKvPairs: number;
    lr: number;
    seed: number;
  },
): Record<string, unknown> => {
  const numKvPairs =
    cell.task === 'mqar-compositional' ? compositionalPairs(cell.numKvPairs) : cell.numKvPairs;
  const seqLen = taskSeqLen(cell.task, cell.seqLen, numKvPairs);
  // Every task needs a vocabulary larger than its sequence.
  const vocabSize = Math.max(config.vocabSize, seqLen + 2);
  return {
    name: `${config.name}-${cell.task}-${cell.variant}-d${cell.dModel}-T${seqLen}-N${numKvPairs}-lr${cell.lr}-s${cell.seed}`,
    device: config.device,
    seed: cell.seed,
    steps: config.steps,
    model: {
      architecture: 'hybrid',
      config: {
        vocabSize,
        dModel: cell.dModel,
        mlp: 'none',
        layers: Array.from({ length: config.layers }, () => attentionLayer(config, cell.variant)),
      },
    },
    data: {
      kind: cell.task,
      vocabSize,
      numKvPairs,
      trainExamples: config.trainExamples,
      evalExamples: config.evalExamples,
      ...(cell.task === 'mqar-variable-keys' ? VARIABLE_KEY_LENGTHS : {}),
    },
    batch: { size: config.batchSize, seqLen },
    optimizer: { lr: cell.lr, weightDecay: config.weightDecay, gradClip: 1 },
    schedule: {
      kind: 'cosine',
      warmupSteps: Math.round(config.steps * config.warmupFraction),
      minLrRatio: 0,
    },
    eval: {
      every: config.evalEvery,
      batches: Math.max(1, Math.ceil(config.evalExamples / config.batchSize)),
    },
    checkpoint: {
      every: Math.max(config.evalEvery, Math.round(config.steps / 4)),
      keepLast: 1,
      keepBest: false,
    },
    logEvery: Math.max(1, Math.round(config.steps / 50)),
  };
};

/** Every run of the study: tasks × variants × d_model × (T, N) × learning rates × seeds. */
export const mqarRuns = (config: MqarStudyConfig): StudyRun[] =>
  config.tasks.flatMap((task) =>
    config.variants.flatMap((variant) =>
      config.dModels.flatMap((dModel) =>
        config.settings.flatMap(({ seqLen, numKvPairs }) =>
          config.lrs.flatMap((lr) =>
            config.seeds.map((seed) => {
              const runConfig = mqarRunConfig(config, {
                task,
                variant,
                dModel,
                seqLen,
                numKvPairs,
                lr,
                seed,
              });
              const data = runConfig['data'] as { numKvPairs: number };
              const batch = runConfig['batch'] as { seqLen: number };
              return {
                config: runConfig,
                labels: {
                  task,
                  variant,
                  dModel,
                  seqLen: batch.seqLen,
                  numKvPairs: data.numKvPairs,
                  lr,
                  seed,
                },
              };
            }),
          ),
        ),
      ),
    ),
  );
