import { Effect } from 'effect';
import { UnknownPreset } from '../errors.js';

/** What presets may size themselves by. */
export interface PresetEnvironment {
  /** A hardware GPU is available: use the larger variant. */
  readonly gpu: boolean;
}

/** A named run config (raw: decoded and validated like a config file). */
export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly config: (env: PresetEnvironment) => Record<string, unknown>;
}

/** Model width/depth of a preset size. */
interface ModelSize {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly nLayers: number;
  readonly nHeads: number;
}

/**
 * The paper's comparison axis: where the short convolutions go and which
 * token mixer carries them. Suffixes of the preset names.
 */
interface Family {
  readonly suffix: string;
  readonly label: string;
  readonly model: (s: ModelSize) => { architecture: string; config: Record<string, unknown> };
}

const transformer = (conv: string) => (s: ModelSize) => ({
  architecture: 'transformer',
  config: { vocabSize: s.vocabSize, dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads, conv },
});

/** Linear-recurrent mixers keep their own static short conv (`static`) or have DSC replace it (`dynamic`). */
const gatedDeltaNet = (conv: 'static' | 'dynamic') => (s: ModelSize) => ({
  architecture: 'gated-deltanet',
  config: { vocabSize: s.vocabSize, dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads, conv },
});
const mamba2 = (conv: 'static' | 'dynamic') => (s: ModelSize) => ({
  architecture: 'mamba2',
  config: {
    vocabSize: s.vocabSize,
    dModel: s.dModel,
    nLayers: s.nLayers,
    headDim: Math.min(64, s.dModel / 2),
    dState: Math.min(64, s.dModel / 4),
    conv,
  },
});

const FAMILIES: readonly Family[] = [
  {
    suffix: 'baseline',
    label: 'transformer without short convolutions (baseline)',
    model: transformer('none'),
  },
  {
    suffix: 'static',
    label: 'transformer with static short convolutions on Q/K/V',
    model: transformer('static-qkv'),
  },
  {
    suffix: 'dsc',
    label: 'transformer with dynamic short convolutions (DSC) on Q/K/V',
    model: transformer('dynamic-qkv'),
  },
  {
    suffix: 'dsc-all',
    label: 'transformer with DSC after every linear layer',
    model: transformer('dynamic-all-linear'),
  },
  {
    suffix: 'gdn',
    label: 'Gated DeltaNet with its static short convolutions',
    model: gatedDeltaNet('static'),
  },
  {
    suffix: 'gdn-dsc',
    label: 'Gated DeltaNet with DSC replacing its short convolutions',
    model: gatedDeltaNet('dynamic'),
  },
  { suffix: 'mamba2', label: 'Mamba-2 with its static short convolution', model: mamba2('static') },
  {
    suffix: 'mamba2-dsc',
    label: 'Mamba-2 with DSC replacing its short convolution',
    model: mamba2('dynamic'),
  },
];

type SyntheticKind = 'mqar' | 'mqar-compositional' | 'mqar-variable-keys';

/**
 * MQAR runs. The CPU size (V=64, T=32, N=4, d=64, batch 16) reaches ~100%
 * recall with DSC in about 150 steps, under three minutes on two cores; the
 * GPU size is Zoology's grid point (V=8192, T=256, N=16) at d=128.
 */
const mqar =
  (kind: SyntheticKind, family: Family): Preset['config'] =>
  (env) => {
    const s = env.gpu
      ? {
          vocabSize: 8192,
          seqLen: 256,
          numKvPairs: 16,
          dModel: 128,
          nLayers: 2,
          nHeads: 2,
          batch: 64,
          steps: 1500,
        }
      : {
          vocabSize: 64,
          seqLen: 32,
          numKvPairs: 4,
          dModel: 64,
          nLayers: 2,
          nHeads: 2,
          batch: 16,
          steps: 200,
        };
    // Variable-length keys take about twice the positions of single-token keys.
    const seqLen = kind === 'mqar-variable-keys' ? s.seqLen * 2 : s.seqLen;
    const vocabSize = Math.max(s.vocabSize, seqLen + 2);
    return {
      model: family.model({ vocabSize, dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads }),
      data: {
        kind,
        vocabSize,
        numKvPairs: s.numKvPairs,
        trainExamples: 100_000,
        evalExamples: env.gpu ? 1024 : 256,
      },
      batch: { size: s.batch, seqLen },
      steps: s.steps,
      optimizer: { lr: 3e-3, weightDecay: 0.1, gradClip: 1 },
      schedule: { kind: 'cosine', warmupSteps: Math.round(s.steps * 0.05), minLrRatio: 0.1 },
      eval: { every: env.gpu ? 100 : 25 },
      checkpoint: { every: env.gpu ? 500 : 100, keepLast: 2 },
      logEvery: env.gpu ? 25 : 10,
    };
  };

/** Small language models on a corpus prepared with `dynconv prepare` (byte-level by default). */
const tinylm =
  (family: Family): Preset['config'] =>
  (env) => {
    const s = env.gpu
      ? { dModel: 384, nLayers: 6, nHeads: 6, seqLen: 256, batch: 32, steps: 5000 }
      : { dModel: 64, nLayers: 2, nHeads: 2, seqLen: 64, batch: 16, steps: 500 };
    return {
      model: family.model({ vocabSize: 256, dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads }),
      data: { kind: 'corpus', path: 'corpora/tinyshakespeare', validationFraction: 0.05 },
      batch: { size: s.batch, seqLen: s.seqLen },
      steps: s.steps,
      optimizer: { lr: env.gpu ? 1e-3 : 2e-3, weightDecay: 0.1, gradClip: 1 },
      schedule: { kind: 'cosine', warmupSteps: Math.round(s.steps * 0.1), minLrRatio: 0.1 },
      eval: { every: env.gpu ? 250 : 100, batches: 8 },
      checkpoint: { every: env.gpu ? 1000 : 250, keepLast: 2 },
      logEvery: 10,
    };
  };

/** A preset whose runs are named after it. */
const named = (name: string, description: string, config: Preset['config']): Preset => ({
  name,
  description,
  config: (env) => ({ name, ...config(env) }),
});

const build = (): Preset[] => {
  const list: Preset[] = [];
  for (const family of FAMILIES)
    list.push(
      named(`mqar-${family.suffix}`, `multi-query associative recall; ${family.label}`, mqar('mqar', family)),
    );
  const variants: [string, SyntheticKind, string][] = [
    ['mqar-compositional', 'mqar-compositional', 'compositional MQAR (two-token keys)'],
    ['mqar-varkeys', 'mqar-variable-keys', 'MQAR with variable-length keys'],
  ];
  for (const [prefix, kind, what] of variants)
    for (const family of FAMILIES.slice(0, 3))
      list.push(named(`${prefix}-${family.suffix}`, `${what}; ${family.label}`, mqar(kind, family)));
  for (const family of FAMILIES)
    list.push(
      named(
        `tinylm-${family.suffix}`,
        `byte-level language model on a prepared corpus; ${family.label}`,
        tinylm(family),
      ),
    );
  return list;
};

/** Every preset, by name. */
export const PRESETS: readonly Preset[] = build();

/** What `dynconv train` with no arguments runs. */
export const DEFAULT_PRESET = 'mqar-dsc';

/** The raw config of a preset for the environment. */
export const presetConfig = (
  name: string,
  env: PresetEnvironment,
): Effect.Effect<Record<string, unknown>, UnknownPreset> => {
  const preset = PRESETS.find((p) => p.name === name);
  return preset
    ? Effect.succeed(preset.config(env))
    : Effect.fail(new UnknownPreset({ name, known: PRESETS.map((p) => p.name) }));
};
