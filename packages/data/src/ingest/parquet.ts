import { asyncBufferFromFile, type FileMetaData, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { DataError } from '../errors.js';
import type { SourceDocument } from './document.js';

/**
 * Documents of a Parquet file's string column `column`, one per row, read row group by row
 * group (memory: one row group). Any codec hyparquet supports out of the box (snappy, gzip,
 * brotli, zstd via hyparquet defaults where available) works. Null values are passed on as
 * `null`. Errors: `column-missing`, `column-type` (not a UTF-8 BYTE_ARRAY), `corrupt` /
 * `truncated` (with the row group's first row as `record` and its byte offset).
 */
export async function* readParquetDocuments(file: string, column: string): AsyncGenerator<SourceDocument> {
  const buffer = await asyncBufferFromFile(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    const message = (error as Error).message;
    const code = /magic|footer|metadata length|too small/i.test(message) ? 'truncated' : 'corrupt';
    throw new DataError(code, { file, offset: buffer.byteLength }, `unreadable Parquet footer: ${message}`, {
      cause: error,
    });
  }
  // Top-level columns are the root's direct children; only flat UTF-8 strings are text.
  const root = metadata.schema[0]!;
  const top = metadata.schema.slice(1);
  const names: string[] = [];
  let element: (typeof top)[number] | undefined;
  for (let i = 0, seen = 0; i < top.length && seen < (root.num_children ?? 0); seen++) {
    const e = top[i]!;
    names.push(e.name);
    if (e.name === column) element = e;
    i += 1 + countDescendants(top, i);
  }
  if (element === undefined)
    throw new DataError('column-missing', { file }, `no column "${column}" (columns: ${names.join(', ')})`);
  const isString =
    element.type === 'BYTE_ARRAY' &&
    (element.converted_type === 'UTF8' ||
      element.logical_type?.type === 'STRING' ||
      element.logical_type?.type === 'JSON');
  if (!isString || element.num_children) {
    const type = element.num_children
      ? 'group'
      : `${element.type}${element.converted_type ? `/${element.converted_type}` : ''}`;
    throw new DataError(
      'column-type',
      { file },
      `column "${column}" is ${type}, expected a UTF-8 string column`,
    );
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: unknown[][] = [];
    try {
      await parquetRead({
        file: buffer,
        metadata,
        columns: [column],
        rowStart,
        rowEnd,
        onComplete: (r) => {
          rows = r;
        },
      });
    } catch (error) {
      const offset = Number(group.columns[0]?.meta_data?.data_page_offset ?? group.file_offset ?? 0);
      throw new DataError(
        'corrupt',
        { file, record: rowStart, offset },
        `unreadable row group: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (rows.length !== rowEnd - rowStart) {
      throw new DataError(
        'corrupt',
        { file, record: rowStart },
        `row group yielded ${rows.length} rows, metadata says ${rowEnd - rowStart}`,
      );
    }
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![0];
      if (value !== null && value !== undefined && typeof value !== 'string') {
        throw new DataError(
          'column-type',
          { file, record: rowStart + i },
          `value of "${column}" is ${typeof value}, expected string`,
        );
      }
      yield { text: (value as string | null | undefined) ?? null, record: rowStart + i };
    }
    rowStart = rowEnd;
  }
}

function countDescendants(elements: readonly { num_children?: number }[], at: number): number {
  let total = 0;
  const n = elements[at]!.num_children ?? 0;
  let i = at + 1;
  for (let c = 0; c < n; c++) {
    const d = 1 + countDescendants(elements, i);
    total += d;
    i += d;
  }
  return total;
}
