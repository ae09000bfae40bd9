import { escapeHtml, formatNumber } from './table.js';

/** One line (or scatter) of a plot. */
export interface PlotSeries {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** `line+points` (default), `points` (scatter), `dashed` (fitted curves). */
  readonly style?: 'line+points' | 'points' | 'dashed';
  /** Index into the palette; series sharing a colour (data + its fit) pass the same. */
  readonly color?: number;
}

export interface PlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly PlotSeries[];
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
  /** Fix the y range (e.g. [0, 1] for accuracies). */
  readonly yRange?: readonly [number, number];
}

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
];

const niceTicks = (lo: number, hi: number, count: number): number[] => {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
};

/**
 * A self-contained SVG line/scatter plot (no scripts, no external assets),
 * so HTML reports open anywhere and survive being archived with a paper.
 * Log axes plot log10 of the values with decade ticks.
 */
export const svgPlot = (spec: PlotSpec): string => {
  const width = spec.width ?? 640;
  const height = spec.height ?? 400;
  const margin = { left: 70, right: 170, top: 36, bottom: 50 };
  const tx = (v: number) => (spec.logX ? Math.log10(v) : v);
  const ty = (v: number) => (spec.logY ? Math.log10(v) : v);
  const finite = spec.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(tx(x)) && Number.isFinite(ty(y))),
  );
  const xs = finite.map(([x]) => tx(x));
  const ys = finite.map(([, y]) => ty(y));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = spec.yRange
    ? [ty(spec.yRange[0]), ty(spec.yRange[1])]
    : ys.length
      ? [Math.min(...ys), Math.max(...ys)]
      : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const padY = spec.yRange ? 0 : 0.05 * (y1 - y0);
  y0 -= padY;
  y1 += padY;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const px = (v: number) => margin.left + ((tx(v) - x0) / (x1 - x0)) * plotW;
  const py = (v: number) => margin.top + plotH - ((ty(v) - y0) / (y1 - y0)) * plotH;

  const tickLabel = (t: number, log: boolean) => (log ? formatNumber(10 ** t) : formatNumber(t));
  const xTicks = spec.logX
    ? niceTicks(Math.ceil(x0), Math.floor(x1), Math.max(1, Math.floor(x1) - Math.ceil(x0)))
    : niceTicks(x0, x1, 6);
  const yTicks = niceTicks(y0, y1, 6);
  const parts: string[] = [];
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );
  for (const t of xTicks) {
    const x = margin.left + ((t - x0) / (x1 - x0)) * plotW;
    parts.push(`<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="11">${escapeHtml(tickLabel(t, spec.logX ?? false))}</text>`,
    );
  }
  for (const t of yTicks) {
    const y = margin.top + plotH - ((t - y0) / (y1 - y0)) * plotH;
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${escapeHtml(tickLabel(t, spec.logY ?? false))}</text>`,
    );
  }
  spec.series.forEach((series, i) => {
    const color = PALETTE[(series.color ?? i) % PALETTE.length]!;
    const pts = series.points.filter(([x, y]) => Number.isFinite(tx(x)) && Number.isFinite(ty(y)));
    const style = series.style ?? 'line+points';
    if (style !== 'points' && pts.length > 1) {
      const d = pts
        .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(2)},${py(y).toFixed(2)}`)
        .join('');
      parts.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${style === 'dashed' ? ' stroke-dasharray="5,4"' : ''}/>`,
      );
    }
    if (style !== 'dashed')
      for (const [x, y] of pts)
        parts.push(`<circle cx="${px(x).toFixed(2)}" cy="${py(y).toFixed(2)}" r="3.2" fill="${color}"/>`);
    const ly = margin.top + 12 + 18 * i;
    const lx = margin.left + plotW + 12;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${style === 'dashed' ? ' stroke-dasharray="5,4"' : ''}/>`,
    );
    parts.push(`<text x="${lx + 24}" y="${ly}" font-size="11">${escapeHtml(series.name)}</text>`);
  });
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle" font-size="12">${escapeHtml(spec.xLabel)}${spec.logX ? ' (log)' : ''}</text>`,
  );
  parts.push(
    `<text transform="translate(16,${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeHtml(spec.yLabel)}${spec.logY ? ' (log)' : ''}</text>`,
  );
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(spec.title)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join('')}</svg>`;
};
