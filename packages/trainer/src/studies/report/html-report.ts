import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type PlotSpec, svgPlot } from './svg-plot.js';
import { escapeHtml, type ReportTable, tableHtml, tableMarkdown } from './table.js';

/** One section of a study report. */
export interface ReportSection {
  readonly heading: string;
  readonly paragraphs?: readonly string[];
  readonly tables?: readonly ReportTable[];
  readonly plots?: readonly PlotSpec[];
}

export interface StudyReport {
  readonly title: string;
  /** Provenance lines: command, date, device, protocol reference. */
  readonly meta: Readonly<Record<string, string>>;
  readonly sections: readonly ReportSection[];
}

const STYLE = `body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:bold;margin-bottom:4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}dt{font-weight:bold}svg{margin:0.5em 0}`;

/** A standalone HTML page: tables and inline SVG plots, no scripts. */
export const reportHtml = (report: StudyReport): string => {
  const meta = Object.entries(report.meta)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  const sections = report.sections
    .map((s) =>
      [
        `<h2>${escapeHtml(s.heading)}</h2>`,
        ...(s.paragraphs ?? []).map((p) => `<p>${escapeHtml(p)}</p>`),
        ...(s.tables ?? []).map(tableHtml),
        ...(s.plots ?? []).map(svgPlot),
      ].join('\n'),
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(report.title)}</h1><dl>${meta}</dl>
${sections}
</body></html>
`;
};

/** The same report as Markdown (tables only; plots are in the HTML), for docs/results. */
export const reportMarkdown = (report: StudyReport): string =>
  [
    `# ${report.title}`,
    '',
    ...Object.entries(report.meta).map(([k, v]) => `- **${k}**: ${v}`),
    '',
    ...report.sections.flatMap((s) => [
      `## ${s.heading}`,
      '',
      ...(s.paragraphs ?? []).flatMap((p) => [p, '']),
      ...(s.tables ?? []).map(tableMarkdown),
    ]),
  ].join('\n');

/** Writes `report.html` and `report.md`. */
export const writeReport = (htmlPath: string, report: StudyReport): void => {
  mkdirSync(dirname(htmlPath), { recursive: true });
  writeFileSync(htmlPath, reportHtml(report));
  writeFileSync(htmlPath.replace(/\.html$/, '.md'), reportMarkdown(report));
};
