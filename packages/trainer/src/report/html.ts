import { formatCount, formatDuration } from '../metrics/progress-line.js';
import type { EndRecord, EvalRecord, StartRecord, TrainRecord } from '../metrics/records.js';
import type { RunData } from './read-run.js';
import { escapeXml, lineChart } from './svg.js';

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];

/** One row of the comparison table. */
export interface RunSummary {
  readonly name: string;
  readonly dir: string;
  readonly architecture: string;
  readonly variant: string;
  readonly parameters: number | null;
  readonly steps: number;
  readonly totalSteps: number | null;
  readonly finalTrainLoss: number | null;
  readonly bestEvalLoss: number | null;
  readonly finalEvalLoss: number | null;
  readonly finalAccuracy: number | null;
  readonly tokensPerSec: number | null;
  readonly elapsedMs: number | null;
  readonly device: string;
  readonly status: string;
  readonly task: 'recall' | 'lm';
}

const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

export function summarize(run: RunData): RunSummary {
  const starts = run.records.filter((r): r is StartRecord => r.type === 'start');
  const train = run.records.filter((r): r is TrainRecord => r.type === 'train');
  const evals = run.records.filter((r): r is EvalRecord => r.type === 'eval');
  const end = [...run.records].reverse().find((r): r is EndRecord => r.type === 'end');
  const start = starts.at(-1);
  const lastStep = Math.max(0, ...run.records.map((r) => ('step' in r ? r.step : 0)));
  const modelConfig = get(run.config, 'model', 'config');
  const conv = get(modelConfig, 'conv');
  const dataKind = get(run.config, 'data', 'kind');
  const rates = train
    .map((r) => r.tokensPerSec)
    .filter((x) => x > 0)
    .sort((a, b) => a - b);
  return {
    name: run.name,
    dir: run.dir,
    architecture: String(get(run.config, 'model', 'architecture') ?? start?.architecture ?? '?'),
    variant: typeof conv === 'string' ? conv : '',
    parameters: start?.parameters ?? null,
    steps: lastStep,
    totalSteps:
      typeof get(run.config, 'steps') === 'number'
        ? (get(run.config, 'steps') as number)
        : (start?.steps ?? null),
    finalTrainLoss: train.at(-1)?.loss ?? null,
    bestEvalLoss: evals.length ? Math.min(...evals.map((e) => e.loss)) : null,
    finalEvalLoss: evals.at(-1)?.loss ?? null,
    finalAccuracy: evals.at(-1)?.accuracy ?? null,
    tokensPerSec: end?.tokensPerSec || (rates.length ? rates[Math.floor(rates.length / 2)]! : null),
    elapsedMs: end?.elapsedMs ?? train.at(-1)?.elapsedMs ?? null,
    device: start?.device ?? '',
    status: end ? end.reason : 'running or killed',
    task: dataKind === 'corpus' ? 'lm' : 'recall',
  };
}

const num = (v: number | null, digits = 4) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** Distinct display names: the run name, plus its folder when names repeat. */
const labels = (runs: readonly RunData[]): string[] => {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  return runs.map((r) => ((counts.get(r.name) ?? 0) > 1 ? `${r.name} (${r.dir.split('/').pop()})` : r.name));
};

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1320px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}p.meta{color:#666;margin:0 0 20px}
table{border-collapse:collapse;margin:8px 0 24px;width:100%}th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600}td.l,th.l{text-align:left}td.wrap{white-space:normal;max-width:280px;font-size:12px}td.best{font-weight:700;color:#0a6}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{border:1px solid #e4e4e4;border-radius:4px;background:#fff}
svg .title{font-size:14px;font-weight:600}svg .tick{font-size:11px;fill:#555}svg .label{font-size:12px;fill:#333}svg .legend{font-size:11px}
svg .grid{stroke:#eee}svg .axis{stroke:#999}svg .empty{fill:#999}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;vertical-align:baseline}
`;

/** The self-contained HTML report: comparison table plus loss/accuracy curves as inline SVG. */
export function renderReport(
  runs: readonly RunData[],
  options: { readonly title?: string; readonly generatedAt?: Date } = {},
): string {
  const names = labels(runs);
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const summaries = runs.map(summarize);
  const bestEval = Math.min(...summaries.map((s) => s.bestEvalLoss ?? Number.POSITIVE_INFINITY));
  const bestAcc = Math.max(...summaries.map((s) => s.finalAccuracy ?? Number.NEGATIVE_INFINITY));
  const rows = summaries
    .map((s, i) => {
      const cells = [
        `<td class="l"><span class="swatch" style="background:${color(i)}"></span>${escapeXml(names[i]!)}</td>`,
        `<td class="l">${escapeXml(s.architecture)}${s.variant ? ` <small>(${escapeXml(s.variant)})</small>` : ''}</td>`,
        `<td>${s.parameters === null ? '–' : formatCount(s.parameters)}</td>`,
        `<td>${s.steps}${s.totalSteps ? ` / ${s.totalSteps}` : ''}</td>`,
        `<td>${num(s.finalTrainLoss)}</td>`,
        `<td${s.bestEvalLoss === bestEval && runs.length > 1 ? ' class="best"' : ''}>${num(s.bestEvalLoss)}</td>`,
        `<td>${num(s.finalEvalLoss)}</td>`,
        `<td${s.finalAccuracy === bestAcc && runs.length > 1 ? ' class="best"' : ''}>${s.finalAccuracy === null ? '–' : `${(100 * s.finalAccuracy).toFixed(1)}%`}</td>`,
        `<td>${s.tokensPerSec === null ? '–' : formatCount(s.tokensPerSec)}</td>`,
        `<td>${s.elapsedMs === null ? '–' : formatDuration(s.elapsedMs)}</td>`,
        `<td class="l wrap">${escapeXml(s.device)}</td>`,
        `<td class="l">${escapeXml(s.status)}</td>`,
      ];
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const series = (pick: (run: RunData) => (readonly [number, number])[], markers = false) =>
    runs.map((run, i) => ({ name: names[i]!, color: color(i), points: pick(run), markers }));
  const trainLoss = series((r) =>
    r.records.filter((x): x is TrainRecord => x.type === 'train').map((x) => [x.step, x.loss] as const),
  );
  const evalLoss = series(
    (r) => r.records.filter((x): x is EvalRecord => x.type === 'eval').map((x) => [x.step, x.loss] as const),
    true,
  );
  const evalAcc = series(
    (r) =>
      r.records
        .filter((x): x is EvalRecord => x.type === 'eval')
        .map((x) => [x.step, 100 * x.accuracy] as const),
    true,
  );
  const recall = summaries.every((s) => s.task === 'recall');
  const title = options.title ?? 'dynconv runs';
  const charts = [
    lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'cross-entropy', series: trainLoss }),
    lineChart({ title: 'Evaluation loss', xLabel: 'step', yLabel: 'cross-entropy', series: evalLoss }),
    lineChart({
      title: recall ? 'Recall accuracy (queries)' : 'Token accuracy',
      xLabel: 'step',
      yLabel: 'accuracy (%)',
      series: evalAcc,
      yFormat: (v) => `${Number(v.toPrecision(3))}%`,
    }),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeXml(title)}</h1>
<p class="meta">${runs.length} run${runs.length === 1 ? '' : 's'} · generated ${escapeXml((options.generatedAt ?? new Date()).toISOString())}</p>
<table>
<thead><tr><th class="l">Run</th><th class="l">Architecture</th><th>Params</th><th>Steps</th><th>Train loss</th><th>Best eval loss</th><th>Final eval loss</th><th>${recall ? 'Recall acc.' : 'Token acc.'}</th><th>Tokens/s</th><th>Time</th><th class="l">Device</th><th class="l">Status</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<div class="charts">
${charts.join('\n')}
</div>
</body></html>
`;
}
