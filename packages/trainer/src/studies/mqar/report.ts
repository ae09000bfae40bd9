import type { StudyReport } from '../report/html-report.js';
import type { PlotSeries, PlotSpec } from '../report/svg-plot.js';
import type { ReportTable } from '../report/table.js';
import type { MqarCell } from './aggregate.js';
import type { MqarStudyConfig } from './config.js';

const VARIANT_LABEL: Record<string, string> = {
  none: 'none (no conv)',
  'static-qkv': 'static QKV conv',
  'dynamic-low-rank': 'DSC QKV (low-rank)',
  'dynamic-head-wise': 'DSC QKV (head-wise)',
};

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Accuracy tables (one per task: variants × (d_model, T, N)) and accuracy-vs-d_model plots. */
export const mqarReport = (
  config: MqarStudyConfig,
  cells: readonly MqarCell[],
  meta: Readonly<Record<string, string>>,
): StudyReport => {
  const sections = unique(cells.map((c) => c.task)).map((task) => {
    const taskCells = cells.filter((c) => c.task === task);
    const settings = unique(taskCells.map((c) => `${c.seqLen}|${c.numKvPairs}`)).map(
      (s) => s.split('|').map(Number) as [number, number],
    );
    const dModels = unique(taskCells.map((c) => c.dModel)).sort((a, b) => a - b);
    const columns = settings.flatMap(([T, N]) => dModels.map((d) => `d=${d} T=${T} N=${N}`));
    const variants = config.variants.filter((v) => taskCells.some((c) => c.variant === v));
    const find = (variant: string, d: number, T: number, N: number) =>
      taskCells.find((c) => c.variant === variant && c.dModel === d && c.seqLen === T && c.numKvPairs === N);
    const table: ReportTable = {
      caption: `${task}: recall accuracy (best of LR ${config.lrs.join(', ')}; mean over ${config.seeds.length} seed(s))`,
      columns: ['variant', ...columns],
      rows: variants.map((v) => [
        VARIANT_LABEL[v] ?? v,
        ...settings.flatMap(([T, N]) => dModels.map((d) => find(v, d, T, N)?.accuracy ?? null)),
      ]),
    };
    const plots: PlotSpec[] = settings.map(([T, N]) => ({
      title: `${task}, T=${T}, N=${N}`,
      xLabel: 'd_model',
      yLabel: 'accuracy',
      logX: dModels.length > 1,
      yRange: [0, 1],
      series: variants.map(
        (v, i): PlotSeries => ({
          name: VARIANT_LABEL[v] ?? v,
          color: i,
          points: dModels.flatMap((d) => {
            const c = find(v, d, T, N);
            return c && Number.isFinite(c.accuracy) ? [[d, c.accuracy] as const] : [];
          }),
        }),
      ),
    }));
    const lrTable: ReportTable = {
      caption: `${task}: winning learning rate per seed`,
      columns: ['variant', ...columns],
      rows: variants.map((v) => [
        VARIANT_LABEL[v] ?? v,
        ...settings.flatMap(([T, N]) => dModels.map((d) => find(v, d, T, N)?.bestLrs.join(' / ') ?? null)),
      ]),
    };
    return { heading: `Task: ${task}`, tables: [table, lrTable], plots };
  });
  const failed = cells.reduce((n, c) => n + c.failedRuns, 0);
  return {
    title: `MQAR study: ${config.name}`,
    meta,
    sections: [
      {
        heading: 'Setup',
        paragraphs: [
          `Model: ${config.layers} attention layer(s), ${config.nHeads} head(s), no MLP, RoPE on ${config.rotaryFraction * 100}% of each head; DSC rank ${config.dsc.rank}, width ${config.dsc.width}, head size ${config.dsc.headSize}.`,
          `Training: ${config.steps} steps of batch ${config.batchSize}, AdamW (weight decay ${config.weightDecay}), cosine schedule to 0 after ${config.warmupFraction * 100}% warmup; learning rates ${config.lrs.join(', ')}; seeds ${config.seeds.join(', ')}.`,
          'Metric: accuracy on the query positions of the held-out set, best evaluation during training (early stopping, as Zoology), best over learning rates, mean over seeds. Protocol: method.md §5 and §8.2.',
          failed > 0 ? `${failed} run(s) failed and are excluded (see results.jsonl).` : 'All runs finished.',
        ],
      },
      ...sections,
    ],
  };
};
