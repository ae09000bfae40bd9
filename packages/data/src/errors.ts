/**
 * Why a data operation failed. Stable strings so callers (and the CLI) can branch on them.
 */
export type DataErrorCode =
  | 'missing' // a file that should exist does not
  | 'truncated' // a file ends before its structure says it should
  | 'corrupt' // bytes do not parse, or offsets/lengths are inconsistent
  | 'checksum' // a shard's SHA-256 differs from its manifest entry
  | 'column-type' // a column exists but has the wrong Arrow/Parquet/JSON type
  | 'column-missing' // the requested column/field is not there
  | 'token-range' // a token id is >= the vocabulary size
  | 'empty-corpus' // no document produced any token
  | 'manifest' // the manifest is unreadable or inconsistent
  | 'bad-input'; // an input record cannot be used (e.g. invalid JSON)

/** Where in a file the problem is, as far as it is known. */
export interface DataErrorLocation {
  /** Path of the file at fault. */
  readonly file: string;
  /** Byte offset in `file`, when the failure has one. */
  readonly offset?: number;
  /** Zero-based record (line, row or document) index in `file`, when the failure has one. */
  readonly record?: number;
}

/**
 * Every error raised for bad data or bad files. The message always names the file and,
 * where known, the record index or byte offset, so a user can find the culprit.
 *
 * Shape: `{ name: 'DataError', code, file, offset?, record?, message, cause? }`.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly code: DataErrorCode;
  readonly file: string;
  readonly offset: number | undefined;
  readonly record: number | undefined;

  constructor(code: DataErrorCode, where: DataErrorLocation, detail: string, options?: { cause?: unknown }) {
    const at = [
      where.record !== undefined ? `record ${where.record}` : undefined,
      where.offset !== undefined ? `byte offset ${where.offset}` : undefined,
    ]
      .filter((s) => s !== undefined)
      .join(', ');
    super(
      `${where.file}${at ? ` (${at})` : ''}: ${detail}`,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.code = code;
    this.file = where.file;
    this.offset = where.offset;
    this.record = where.record;
  }
}

/**
 * A loader resume cursor that does not fit the loader it is given to (other seed, batch
 * size, dataset, rank...). Resuming anyway would silently produce different batches.
 */
export class CursorMismatchError extends Error {
  override readonly name = 'CursorMismatchError';
  /** The cursor field that disagrees. */
  readonly field: string;
  constructor(field: string, expected: unknown, actual: unknown) {
    super(
      `resume cursor does not match this loader: ${field} is ${JSON.stringify(actual)}, loader has ${JSON.stringify(expected)}`,
    );
    this.field = field;
  }
}
