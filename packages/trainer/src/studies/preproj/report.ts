import type { StudyReport } from '../report/html-report.js';
import type { PreprojStudyConfig } from './config.js';
import type { ProbeArmResult, SkipNorm } from './study.js';

const LABEL: Record<string, string> = {
  base: 'frozen base',
  preproj: 'pre-projection only',
  'preproj+skip': 'pre-projection + content skip',
  lora: 'LoRA (q, k, v, o)',
};

/** Perplexity table, loss curves and per-layer skip norms. */
export const preprojReport = (
  config: PreprojStudyConfig,
  arms: readonly ProbeArmResult[],
  skipNorms: readonly SkipNorm[],
  meta: Readonly<Record<string, string>>,
): StudyReport => {
  const base = arms.find((a) => a.arm === 'base');
  return {
    title: `Pre-projection probe: ${config.name}`,
    meta,
    sections: [
      {
        heading: 'Setup',
        paragraphs: [
          `Frozen base; only the new parameters train for ${config.steps} steps (AdamW, LR ${config.lr}, ${config.warmupSteps} warmup steps, cosine, weight decay ${config.weightDecay}). Pre-projection expansion ${config.expansion}. LoRA rank ${config.loraRank ?? 'matched to the pre-projection + skip parameter count'}, scale 1, implemented by exact gradient mapping onto merged weights.`,
          'Perplexity on the held-out split of the probe data (in-domain, as in the paper). Protocol: method.md §2.3.',
        ],
      },
      {
        heading: 'Results',
        tables: [
          {
            caption: 'Perplexity after the probe',
            columns: [
              'arm',
              'trainable params',
              'LoRA rank',
              'eval loss',
              'perplexity',
              'Δ perplexity vs base',
              'accuracy',
              'seconds',
            ],
            rows: arms.map((a) => [
              LABEL[a.arm] ?? a.arm,
              a.trainableParameters,
              a.loraRank ?? null,
              a.evalLoss,
              a.perplexity,
              base && a.arm !== 'base' ? `${(100 * (a.perplexity / base.perplexity - 1)).toFixed(1)}%` : null,
              a.accuracy,
              a.seconds,
            ]),
          },
        ],
        plots: [
          {
            title: 'Eval loss during the probe',
            xLabel: 'step',
            yLabel: 'eval loss',
            series: arms
              .filter((a) => a.curve.length > 0)
              .map((a, i) => ({
                name: LABEL[a.arm] ?? a.arm,
                color: i + 1,
                points: a.curve.map((c) => [c.step, c.loss] as const),
              })),
          },
        ],
      },
      {
        heading: 'Content-skip weight norms',
        paragraphs: [
          '‖W_skip‖_F per layer after the probe (the paper reports larger norms in the upper layers).',
        ],
        tables: [{ columns: ['layer', '‖W_skip‖_F'], rows: skipNorms.map((s) => [s.layer, s.norm]) }],
        plots:
          skipNorms.length > 1
            ? [
                {
                  title: 'Skip norm by layer',
                  xLabel: 'layer',
                  yLabel: '‖W_skip‖_F',
                  series: [{ name: 'skip norm', points: skipNorms.map((s) => [s.layer, s.norm] as const) }],
                },
              ]
            : [],
      },
    ],
  };
};
