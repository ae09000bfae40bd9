import { Field, List, makeData, RecordBatch, Schema, Struct, Uint16, Uint32 } from 'apache-arrow';

/** Element type of a token column: `uint16` for vocabularies up to 65,536 ids, else `uint32`. */
export type TokenType = 'uint16' | 'uint32';

/** A flat run of token ids, in the element type of its shard. */
export type TokenArray = Uint16Array | Uint32Array;

/**
 * Documents as one flat token array plus list offsets: document `i` is
 * `tokens.subarray(offsets[i], offsets[i + 1])`. `offsets.length === documents + 1`.
 */
export interface TokenChunk {
  readonly tokens: TokenArray;
  readonly offsets: Int32Array;
}

/** Name of the token column in shards this package writes. */
export const DEFAULT_TOKEN_COLUMN = 'tokens';

/** Schema metadata key marking shards written by this package (informational only). */
export const FORMAT_METADATA_KEY = 'dynconv.format';
/** Value of {@link FORMAT_METADATA_KEY}. */
export const FORMAT_METADATA_VALUE = 'tokens-v1';

/** Smallest element type that holds every id of a vocabulary of `vocabSize` ids. */
export const tokenTypeForVocab = (vocabSize: number): TokenType =>
  vocabSize <= 65_536 ? 'uint16' : 'uint32';

/** Largest id representable by `type`, plus one. */
export const tokenTypeLimit = (type: TokenType): number => (type === 'uint16' ? 65_536 : 2 ** 32);

/** Allocates a token array of the given element type. */
export const allocTokens = (type: TokenType, length: number): TokenArray =>
  type === 'uint16' ? new Uint16Array(length) : new Uint32Array(length);

/** The Arrow schema of a token shard: one non-null `List<Uint16|Uint32>` column, one row per document. */
export function tokenShardSchema(type: TokenType, column = DEFAULT_TOKEN_COLUMN): Schema {
  const item = new Field('item', type === 'uint16' ? new Uint16() : new Uint32(), false);
  return new Schema(
    [new Field(column, new List(item), false)],
    new Map([[FORMAT_METADATA_KEY, FORMAT_METADATA_VALUE]]),
  );
}

/**
 * Wraps a chunk as a record batch without copying: the typed arrays become the IPC buffers.
 * `chunk.tokens` must have the element type of `schema`.
 */
export function tokenRecordBatch(schema: Schema, chunk: TokenChunk): RecordBatch {
  const listField = schema.fields[0]!;
  const listType = listField.type as List;
  const values = makeData({
    type: listType.valueType,
    length: chunk.tokens.length,
    nullCount: 0,
    data: chunk.tokens,
  });
  const rows = chunk.offsets.length - 1;
  const list = makeData({
    type: listType,
    length: rows,
    nullCount: 0,
    valueOffsets: chunk.offsets,
    child: values,
  });
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children: [list] }),
  );
}
