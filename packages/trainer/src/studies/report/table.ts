/** A table of a study report: column headers and rows of cells (numbers are formatted). */
export interface ReportTable {
  readonly caption?: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number | null>>;
}

/** Numbers as a paper would print them: 4 significant digits, exponents for extremes. */
export const formatNumber = (value: number): string => {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const rounded = Number(value.toPrecision(4));
  return Math.abs(value) >= 1e6 || (Math.abs(value) < 1e-3 && value !== 0)
    ? rounded.toExponential()
    : String(rounded);
};

const cell = (value: string | number | null): string =>
  value === null ? '' : typeof value === 'number' ? formatNumber(value) : value;

export const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The table as HTML. */
export const tableHtml = (table: ReportTable): string => {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        `<tr>${row.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${escapeHtml(cell(v))}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const caption = table.caption ? `<caption>${escapeHtml(table.caption)}</caption>` : '';
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
};

/** The table as GitHub Markdown (for docs/results). */
export const tableMarkdown = (table: ReportTable): string => {
  const escapePipes = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${table.columns.map(escapePipes).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map((v) => escapePipes(cell(v))).join(' | ')} |`),
  ];
  return `${table.caption ? `${table.caption}\n\n` : ''}${lines.join('\n')}\n`;
};
