import type { StudyReport } from '../report/html-report.js';
import type { PlotSeries } from '../report/svg-plot.js';
import { formatNumber, type ReportTable } from '../report/table.js';
import type { LadderPoint, ScalingAnalysis } from './analyze.js';
import type { ScalingStudyConfig } from './config.js';
import { predictLoss } from './power-law-fit.js';

const interval = (m: number, lo: number, hi: number) =>
  `${formatNumber(m)} [${formatNumber(lo)}, ${formatNumber(hi)}]`;

/** Tables (runs, fits, multipliers) and plots (loss vs compute with fits, loss vs wall-clock). */
export const scalingReport = (
  config: ScalingStudyConfig,
  points: readonly LadderPoint[],
  analysis: ScalingAnalysis,
  meta: Readonly<Record<string, string>>,
): StudyReport => {
  const runs: ReportTable = {
    caption: 'Runs (final eval loss on the held-out split)',
    columns: [
      'variant',
      'size',
      'seed',
      'params',
      'non-emb params',
      'tokens',
      'FLOPs',
      'eval loss',
      'seconds',
      'tokens/s',
    ],
    rows: [...points]
      .sort((a, b) => a.variant.localeCompare(b.variant) || a.rung - b.rung || a.seed - b.seed)
      .map((p) => [
        p.variant,
        p.size,
        p.seed,
        p.parameters,
        p.nonEmbeddingParameters,
        p.tokens,
        p.compute,
        p.loss,
        p.seconds,
        p.tokensPerSec,
      ]),
  };
  const fits: ReportTable = {
    caption: 'Fits of L(C) = E + A·C^(−α) (Huber loss on log residuals, δ = 1e-3)',
    columns: ['variant', 'E', 'log A', 'α', 'points', 'objective', 'problem'],
    rows: analysis.fits.map((f) =>
      f.fit
        ? [f.variant, f.fit.E, f.fit.logA, f.fit.alpha, f.fit.points, f.fit.objective, null]
        : [f.variant, null, null, null, f.points.length, null, f.problem],
    ),
  };
  const multipliers: ReportTable = {
    caption:
      "Compute multiplier over the baseline (m > 1: the variant reaches the baseline's loss with 1/m of the compute); 95% bootstrap CI",
    columns: [
      'variant',
      'baseline',
      'shared-exponent m [CI]',
      'at max compute m [CI]',
      'bootstrap',
      'replicates',
      'problem',
    ],
    rows: analysis.multipliers.map((m) =>
      m.result
        ? [
            m.variant,
            m.baseline,
            interval(m.result.multiplier, m.result.lower, m.result.upper),
            interval(
              m.result.atMaxCompute.multiplier,
              m.result.atMaxCompute.lower,
              m.result.atMaxCompute.upper,
            ),
            m.result.method,
            m.result.replicates,
            null,
          ]
        : [m.variant, m.baseline, null, null, null, null, m.problem],
    ),
  };
  const lossVsCompute: PlotSeries[] = analysis.fits.flatMap((f, i) => {
    const data: PlotSeries = {
      name: f.variant,
      color: i,
      style: 'points',
      points: f.points.map((p) => [p.compute, p.loss] as const),
    };
    if (!f.fit || f.points.length === 0) return [data];
    const cs = f.points.map((p) => p.compute);
    const lo = Math.log(Math.min(...cs));
    const hi = Math.log(Math.max(...cs));
    const curve = Array.from({ length: 40 }, (_, k) => {
      const c = Math.exp(lo + ((hi - lo) * k) / 39);
      return [c, predictLoss(f.fit!, c)] as const;
    });
    return [data, { name: `${f.variant} fit`, color: i, style: 'dashed', points: curve }];
  });
  const lossVsTime: PlotSeries[] = analysis.fits.map((f, i) => ({
    name: f.variant,
    color: i,
    points: [...f.points].sort((a, b) => a.seconds - b.seconds).map((p) => [p.seconds, p.loss] as const),
  }));
  return {
    title: `LM ablation and scaling study: ${config.name}`,
    meta,
    sections: [
      {
        heading: 'Setup',
        paragraphs: [
          `Corpus ${config.corpus}; sequence length ${config.seqLen}, batch ${config.batchSize}; ${config.tokensPerParameter} training tokens per non-embedding parameter; AdamW (weight decay ${config.weightDecay}), cosine schedule with ${config.warmupFraction * 100}% warmup; seeds ${config.seeds.join(', ')}.`,
          `Ladder (d_model / layers / heads / LR): ${config.rungs.map((r) => `${r.dModel}/${r.nLayers}/${r.nHeads}/${r.lr}`).join(', ')}. DSC: low-rank R=${config.dsc.rank}, W=${config.dsc.width}.`,
          'Compute C = training FLOPs per token from each architecture plugin (forward + backward, attention, short convolutions and DSC generators included) × tokens trained. Protocol: method.md §6.',
        ],
      },
      { heading: 'Compute multipliers', tables: [multipliers] },
      {
        heading: 'Scaling fits',
        tables: [fits],
        plots: [
          {
            title: 'Eval loss vs training compute',
            xLabel: 'training FLOPs',
            yLabel: 'eval loss',
            logX: true,
            logY: true,
            series: lossVsCompute,
          },
          {
            title: 'Eval loss vs wall-clock',
            xLabel: 'training seconds',
            yLabel: 'eval loss',
            logX: true,
            logY: true,
            series: lossVsTime,
          },
        ],
      },
      { heading: 'Runs', tables: [runs] },
    ],
  };
};
