/** Inline SVG line charts for the run report (no scripts, no external assets). */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** Mark each point (sparse series such as evaluations). */
  readonly markers?: boolean;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  /** Format of y tick labels (default: up to 3 significant digits). */
  readonly yFormat?: (v: number) => string;
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round tick positions covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.75) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
    ? v.toExponential(1)
    : String(Number(v.toPrecision(3)));

/** A line chart with axes, grid, ticks and a legend, as an `<svg>` element string. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 320;
  const m = { left: 64, right: 16, top: 32, bottom: 44 };
  const points = o.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(o.title)}">`;
  const title = `<text x="${width / 2}" y="20" text-anchor="middle" class="title">${escapeXml(o.title)}</text>`;
  if (points.length === 0)
    return `${head}${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="empty">no data</text></svg>`;
  let [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const yFormat = o.yFormat ?? fmt;
  const parts: string[] = [head, title];
  for (const t of niceTicks(y0, y1))
    parts.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" class="grid"/>`,
      `<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end" class="tick">${escapeXml(yFormat(t))}</text>`,
    );
  for (const t of niceTicks(x0, x1))
    parts.push(
      `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${height - m.bottom}" y2="${height - m.bottom + 4}" class="axis"/>`,
      `<text x="${px(t).toFixed(1)}" y="${height - m.bottom + 16}" text-anchor="middle" class="tick">${escapeXml(fmt(t))}</text>`,
    );
  parts.push(
    `<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" class="axis"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" class="axis"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 8}" text-anchor="middle" class="label">${escapeXml(o.xLabel)}</text>`,
    `<text x="14" y="${(m.top + height - m.bottom) / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${(m.top + height - m.bottom) / 2})">${escapeXml(o.yLabel)}</text>`,
  );
  for (const s of o.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) continue;
    const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"><title>${escapeXml(s.name)}</title></path>`,
    );
    if (s.markers || pts.length === 1)
      for (const [x, y] of pts)
        parts.push(
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.8" fill="${s.color}"><title>${escapeXml(`${s.name}: step ${x}, ${fmt(y)}`)}</title></circle>`,
        );
  }
  o.series.forEach((s, i) => {
    const y = m.top + 4 + i * 15;
    parts.push(
      `<rect x="${width - m.right - 170}" y="${y - 8}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${width - m.right - 155}" y="${y + 1}" class="legend">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
