import { readFile, stat } from 'node:fs/promises';
import { type Data, List, type RecordBatch, RecordBatchReader, type Schema, Type } from 'apache-arrow';
import { sha256Hex } from '../checksum.js';
import { registerArrowCodecs } from '../compression/lz4-frame.js';
import { DataError } from '../errors.js';
import { DEFAULT_TOKEN_COLUMN, type TokenArray, type TokenChunk, type TokenType } from './schema.js';

/** Options of {@link readTokenShard}. */
export interface ReadTokenShardOptions {
  /** Name of the `List<Uint16|Uint32>` column; default `tokens`. */
  readonly column?: string;
  /** Expected hex SHA-256 of the whole file (from a manifest); mismatch throws `checksum`. */
  readonly sha256?: string;
  /** When given, every token id must be below it (`token-range` otherwise). */
  readonly vocabSize?: number;
}

/**
 * A token shard held in memory. `chunks` are zero-copy views into the file's bytes, one per
 * Arrow record batch; document `d` of a chunk is `tokens.subarray(offsets[d], offsets[d + 1])`.
 */
export interface TokenShard {
  readonly file: string;
  readonly tokenType: TokenType;
  readonly chunks: readonly TokenChunk[];
  readonly documents: number;
  readonly tokens: number;
  /** File size in bytes. */
  readonly bytes: number;
  /** Hex SHA-256 of the file. */
  readonly sha256: string;
}

const MAGIC = 'ARROW1';

/**
 * Reads and validates a token shard: an Arrow IPC file or stream, or a Feather v2 file
 * (uncompressed or LZ4; ours or pyarrow's), with a
 * `List<uint16>` or `List<uint32>` column. Checks, each raising a {@link DataError} naming the file:
 * existence (`missing`), checksum (`checksum`), IPC framing (`truncated`/`corrupt`, with the byte
 * offset), column presence and type (`column-missing`/`column-type`), list offsets and nulls
 * (`corrupt`, with the document index) and token ids against `vocabSize` (`token-range`, with the
 * document index).
 */
export async function readTokenShard(file: string, options: ReadTokenShardOptions = {}): Promise<TokenShard> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DataError('missing', { file }, 'shard file does not exist');
    throw error;
  }
  return decodeTokenShard(file, bytes, options);
}

/** {@link readTokenShard} over bytes already in memory; `file` is used in error messages only. */
export function decodeTokenShard(
  file: string,
  bytes: Uint8Array,
  options: ReadTokenShardOptions = {},
): TokenShard {
  const sha256 = sha256Hex(bytes);
  if (options.sha256 !== undefined && options.sha256 !== sha256) {
    throw new DataError(
      'checksum',
      { file },
      `SHA-256 ${sha256} does not match the manifest's ${options.sha256} (file is ${bytes.length} bytes: truncated or modified)`,
    );
  }
  checkFraming(file, bytes);
  const column = options.column ?? DEFAULT_TOKEN_COLUMN;
  const batches: RecordBatch[] = [];
  let schema: Schema;
  registerArrowCodecs();
  try {
    const reader = RecordBatchReader.from(bytes);
    reader.open();
    schema = reader.schema;
    for (const batch of reader) batches.push(batch);
  } catch (error) {
    throw new DataError('corrupt', { file }, `not a readable Arrow IPC file: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const fieldIndex = schema.fields.findIndex((f) => f.name === column);
  if (fieldIndex < 0) {
    throw new DataError(
      'column-missing',
      { file },
      `no column "${column}" (columns: ${schema.fields.map((f) => f.name).join(', ')})`,
    );
  }
  const type = schema.fields[fieldIndex]!.type;
  const tokenType = listElementType(type);
  if (tokenType === undefined) {
    throw new DataError(
      'column-type',
      { file },
      `column "${column}" has type ${String(type)}, expected List<Uint16> or List<Uint32>`,
    );
  }
  const chunks: TokenChunk[] = [];
  let documents = 0;
  let tokens = 0;
  for (const batch of batches) {
    const list = batch.getChildAt(fieldIndex)!.data[0] as Data<List> | undefined;
    if (list === undefined || list.length === 0) continue;
    const chunk = viewChunk(file, list, documents);
    if (options.vocabSize !== undefined) checkTokenRange(file, chunk, options.vocabSize, documents);
    chunks.push(chunk);
    documents += chunk.offsets.length - 1;
    tokens += chunk.offsets[chunk.offsets.length - 1]! - chunk.offsets[0]!;
  }
  return { file, tokenType, chunks, documents, tokens, bytes: bytes.length, sha256 };
}

/** Size of a file, or a `missing` DataError. */
export async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    throw new DataError('missing', { file }, 'file does not exist');
  }
}

function checkFraming(file: string, bytes: Uint8Array): void {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(6, bytes.length)).toString('latin1');
  if (head === MAGIC) {
    // File format: magic, padding, stream, footer, int32 footer length, magic. A missing
    // trailing magic is the signature of a truncated (partially copied or written) file.
    const n = bytes.length;
    const tail = n >= 12 ? Buffer.from(bytes.buffer, bytes.byteOffset + n - 6, 6).toString('latin1') : '';
    if (tail !== MAGIC) {
      throw new DataError(
        'truncated',
        { file, offset: n },
        `Arrow IPC file ends at byte ${n} without its footer (truncated)`,
      );
    }
    const footerLength = new DataView(bytes.buffer, bytes.byteOffset + n - 10, 4).getInt32(0, true);
    if (footerLength <= 0 || footerLength > n - 18) {
      throw new DataError(
        'corrupt',
        { file, offset: n - 10 },
        `Arrow IPC footer length ${footerLength} is impossible for a ${n}-byte file`,
      );
    }
    return;
  }
  // Stream format starts with a continuation marker (0xFFFFFFFF) or, pre-0.15, a message length.
  if (bytes.length < 8)
    throw new DataError(
      'truncated',
      { file, offset: bytes.length },
      `only ${bytes.length} bytes: not an Arrow IPC file`,
    );
  const first = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (first !== 0xffffffff)
    throw new DataError('corrupt', { file, offset: 0 }, 'no Arrow IPC magic or stream marker at the start');
}

function listElementType(type: unknown): TokenType | undefined {
  if (!(type instanceof List)) return undefined;
  const child = type.valueType;
  if (child.typeId !== Type.Int || child.isSigned) return undefined;
  if (child.bitWidth === 16) return 'uint16';
  if (child.bitWidth === 32) return 'uint32';
  return undefined;
}

/** Zero-copy typed views of one record batch's list column, validated. */
function viewChunk(file: string, list: Data<List>, firstDocument: number): TokenChunk {
  if (list.nullCount > 0) {
    const d = firstNull(list);
    throw new DataError('corrupt', { file, record: firstDocument + d }, 'document is null');
  }
  const values = list.children[0]!;
  if (values.nullCount > 0)
    throw new DataError('corrupt', { file, record: firstDocument }, 'token list contains null ids');
  // GOTCHA: `.values` is the padded IPC buffer; slice to the logical range.
  const tokens = (values.values as TokenArray).subarray(values.offset, values.offset + values.length);
  const offsets = list.valueOffsets.subarray(list.offset, list.offset + list.length + 1) as Int32Array;
  if (offsets.length !== list.length + 1) {
    throw new DataError(
      'corrupt',
      { file, record: firstDocument },
      'list offsets buffer is shorter than the row count',
    );
  }
  let prev = offsets[0]!;
  if (prev < 0)
    throw new DataError('corrupt', { file, record: firstDocument }, `negative list offset ${prev}`);
  for (let i = 1; i < offsets.length; i++) {
    const o = offsets[i]!;
    if (o < prev || o > tokens.length) {
      throw new DataError(
        'corrupt',
        { file, record: firstDocument + i - 1 },
        `list offset ${o} out of order or past ${tokens.length} tokens`,
      );
    }
    prev = o;
  }
  return { tokens, offsets };
}

function firstNull(list: Data<List>): number {
  for (let i = 0; i < list.length; i++) if (!list.getValid(i)) return i;
  return 0;
}

function checkTokenRange(file: string, chunk: TokenChunk, vocabSize: number, firstDocument: number): void {
  const { tokens, offsets } = chunk;
  const lo = offsets[0]!;
  const hi = offsets[offsets.length - 1]!;
  let max = 0;
  for (let i = lo; i < hi; i++) if (tokens[i]! > max) max = tokens[i]!;
  if (max < vocabSize) return;
  let at = lo;
  while (tokens[at]! < vocabSize) at++;
  let doc = 0;
  while (offsets[doc + 1]! <= at) doc++;
  throw new DataError(
    'token-range',
    { file, record: firstDocument + doc },
    `token id ${tokens[at]} at position ${at - offsets[doc]!} of the document is >= vocabulary size ${vocabSize}`,
  );
}
