/** Input formats {@link ingest} reads. `arrow` covers Arrow IPC files, streams and Feather v2 (uncompressed or LZ4). */
export type InputFormat = 'text' | 'jsonl' | 'parquet' | 'arrow';

/** How a plain-text file is cut into documents. */
export type TextSplit =
  /** the whole file is one document */
  | 'file'
  /** each non-empty line is a document */
  | 'line'
  /** documents are separated by one or more blank lines */
  | 'paragraph';

/** One document read from an input, with where it came from (for error messages). */
export interface SourceDocument {
  /** The text; `null` for null values (Parquet/Arrow/JSON null), which ingestion skips. */
  readonly text: string | null;
  /** Zero-based record index in the file: line (text `line`, JSONL), paragraph, or row. */
  readonly record: number;
  /** Byte offset of the record's start in the file, where the format has one. */
  readonly offset?: number;
}

/** Picks the format from the file extension; undefined when unknown. */
export function formatFromExtension(path: string): InputFormat | undefined {
  const ext = path.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  switch (ext) {
    case 'txt':
    case 'text':
    case 'md':
      return 'text';
    case 'jsonl':
    case 'ndjson':
      return 'jsonl';
    case 'parquet':
    case 'pq':
      return 'parquet';
    case 'arrow':
    case 'arrows':
    case 'feather':
    case 'ipc':
      return 'arrow';
    default:
      return undefined;
  }
}
