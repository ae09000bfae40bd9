import type { StudyReport } from '../report/html-report.js';
import type { DtrStudyConfig } from './config.js';
import type { DistillResult } from './distill.js';
import type { GreedyResult } from './greedy.js';
import type { BaselineCurve, ScoredModel } from './study.js';

export interface DtrReportInput {
  readonly layers: number;
  readonly distill: DistillResult;
  readonly greedy: GreedyResult;
  readonly curves: readonly BaselineCurve[];
  readonly models: readonly ScoredModel[];
  readonly metric: 'accuracy' | 'loss';
}

/** Score vs layers replaced (greedy, uniform, random), the model table with decode speedups, distillation quality. */
export const dtrReport = (
  config: DtrStudyConfig,
  input: DtrReportInput,
  meta: Readonly<Record<string, string>>,
): StudyReport => {
  const { greedy, curves, models, distill } = input;
  const scoreName = input.metric === 'accuracy' ? 'accuracy' : '−loss';
  const full = models[0];
  const greedyCurve = [
    [0, greedy.baseScore] as const,
    ...greedy.rounds.map((r, i) => [i + 1, r.score] as const),
  ];
  const maxK = Math.max(input.layers, 1);
  return {
    title: `Distill-then-Replace: ${config.name}`,
    meta,
    sections: [
      {
        heading: 'Setup',
        paragraphs: [
          `Linear module: ${config.mixer} with the attention's hidden size${config.warmStart ? ', q/k/v/o warm-started from the attention weights' : ''}. Blockwise local distillation: ${config.distillSteps} steps, LR ${config.distillLr}, MSE on each block's output, teacher frozen, all layers in parallel, only the new modules train.`,
          `Greedy replacement (method.md §3.2) on the validation half of the held-out batches, metric ${scoreName}, threshold P_min = P(full)·(1 ${input.metric === 'accuracy' ? '−' : '+'} ${config.maxRelativeDrop}) = ${greedy.minScore.toFixed(4)}; ${greedy.evaluations} validation passes. Test scores on the other half.`,
          `Decode speed: batch ${config.decode.batch}, ${config.decode.context}-token prefill, ${config.decode.tokens} generated tokens, best of ${config.decode.repeats}.`,
        ],
      },
      {
        heading: 'Models',
        tables: [
          {
            caption: `Validation and test ${scoreName}; decode throughput and speedup over full attention`,
            columns: [
              'model',
              'linear layers',
              'count',
              `val ${scoreName}`,
              `test ${scoreName}`,
              'decode tok/s',
              'speedup',
              'saved to',
            ],
            rows: models.map((m) => [
              m.label,
              m.replaced.join(', ') || '—',
              m.replaced.length,
              m.validation,
              m.test,
              m.decode?.tokensPerSecond ?? null,
              m.decode && full?.decode ? m.decode.tokensPerSecond / full.decode.tokensPerSecond : null,
              m.savedTo ?? null,
            ]),
          },
        ],
      },
      {
        heading: 'Score vs layers replaced',
        tables: [
          {
            caption: `Validation ${scoreName} by number of linear layers`,
            columns: [
              'layers replaced',
              'greedy',
              'greedy layer added',
              'uniform interleave',
              'random mean',
              'random min',
              'random max',
            ],
            rows: Array.from({ length: maxK + 1 }, (_, k) => {
              const round = k > 0 ? greedy.rounds[k - 1] : undefined;
              const curve = curves.find((c) => c.k === k);
              return [
                k,
                k === 0 ? greedy.baseScore : (round?.score ?? null),
                round ? `${round.chosen}${round.accepted ? '' : ' (rejected)'}` : null,
                k === 0 ? greedy.baseScore : (curve?.uniform ?? null),
                k === 0 ? greedy.baseScore : (curve?.randomMean ?? null),
                curve?.randomMin ?? null,
                curve?.randomMax ?? null,
              ];
            }),
          },
        ],
        plots: [
          {
            title: `Validation ${scoreName} vs layers replaced`,
            xLabel: 'linear layers',
            yLabel: scoreName,
            series: [
              { name: 'greedy', points: greedyCurve },
              {
                name: 'uniform interleave',
                points: [[0, greedy.baseScore] as const, ...curves.map((c) => [c.k, c.uniform] as const)],
              },
              {
                name: 'random (mean)',
                points: [[0, greedy.baseScore] as const, ...curves.map((c) => [c.k, c.randomMean] as const)],
              },
              {
                name: 'P_min',
                style: 'dashed',
                points: [
                  [0, greedy.minScore],
                  [maxK, greedy.minScore],
                ],
              },
            ],
          },
        ],
      },
      {
        heading: 'Greedy rounds',
        tables: [
          {
            caption: 'Candidate validation scores per round (each remaining layer swapped in turn)',
            columns: [
              'round',
              'already linear',
              ...Array.from({ length: input.layers }, (_, i) => `layer ${i}`),
              'chosen',
              'kept',
            ],
            rows: greedy.rounds.map((r, i) => [
              i + 1,
              r.replacedBefore.join(', ') || '—',
              ...Array.from(
                { length: input.layers },
                (_, l) => r.candidates.find((c) => c.layer === l)?.score ?? null,
              ),
              r.chosen,
              r.accepted ? 'yes' : 'no (below P_min)',
            ]),
          },
        ],
      },
      {
        heading: 'Blockwise local distillation',
        tables: [
          {
            caption:
              'Per-layer relative MSE of the block output (MSE / mean square of the attention output), held-out batch',
            columns: ['layer', 'before', 'after'],
            rows: distill.relativeMseAfter.map((after, i) => [
              i,
              distill.relativeMseBefore[i] ?? null,
              after,
            ]),
          },
        ],
        plots: [
          {
            title: 'Distillation loss (sum over layers)',
            xLabel: 'step',
            yLabel: 'summed MSE',
            logY: true,
            series: [{ name: 'BLD loss', points: distill.losses.map((l, i) => [i + 1, l] as const) }],
          },
        ],
      },
    ],
  };
};
