import { RecordBatchFileWriter } from 'apache-arrow';
import { writeFileAtomic } from '../atomic-write.js';
import { sha256Hex } from '../checksum.js';
import {
  allocTokens,
  DEFAULT_TOKEN_COLUMN,
  type TokenArray,
  type TokenChunk,
  type TokenType,
  tokenRecordBatch,
  tokenShardSchema,
  tokenTypeLimit,
} from './schema.js';

/** Options of {@link TokenShardBuilder}. */
export interface TokenShardBuilderOptions {
  /** Element type of the token column. */
  readonly tokenType: TokenType;
  /** Column name; default `tokens`. */
  readonly column?: string;
  /** Target tokens per Arrow record batch (a batch closes after the document that reaches it); default 1,048,576. */
  readonly recordBatchTokens?: number;
}

/** What {@link TokenShardBuilder.finish} returns: the IPC file bytes and their counts. */
export interface EncodedShard {
  /** Complete Arrow IPC file (with footer), ready to write. */
  readonly bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  readonly sha256: string;
  readonly documents: number;
  readonly tokens: number;
}

/**
 * Accumulates documents for one shard and encodes them as an Arrow IPC file.
 * Memory is about twice the shard's token bytes (buffers plus the encoded file).
 */
export class TokenShardBuilder {
  readonly tokenType: TokenType;
  readonly column: string;
  private readonly recordBatchTokens: number;
  private readonly chunks: TokenChunk[] = [];
  private tokens: TokenArray;
  private offsets: Int32Array;
  private used = 0;
  private docs = 0;
  private totalDocuments = 0;
  private totalTokens = 0;

  constructor(options: TokenShardBuilderOptions) {
    this.tokenType = options.tokenType;
    this.column = options.column ?? DEFAULT_TOKEN_COLUMN;
    this.recordBatchTokens = Math.max(1, options.recordBatchTokens ?? 1 << 20);
    this.tokens = allocTokens(this.tokenType, 1024);
    this.offsets = new Int32Array(64);
  }

  /** Documents added so far. */
  get documents(): number {
    return this.totalDocuments;
  }

  /** Tokens added so far. */
  get tokenCount(): number {
    return this.totalTokens;
  }

  /**
   * Appends one document. Ids must fit the element type (checked: a silent wrap-around
   * would corrupt the corpus). Throws RangeError otherwise.
   */
  add(document: ArrayLike<number>): void {
    const n = document.length;
    if (this.used + n > 0x7fffffff) throw new RangeError('record batch exceeds 2^31 tokens');
    // Bytes always fit; anything else is checked, since a silent wrap-around would corrupt the corpus.
    const limit = tokenTypeLimit(this.tokenType);
    if (!(document instanceof Uint8Array))
      for (let i = 0; i < n; i++) {
        const id = document[i]!;
        if (!(id >= 0 && id < limit && Number.isInteger(id))) {
          throw new RangeError(`token id ${id} does not fit ${this.tokenType}`);
        }
      }
    if (this.used + n > this.tokens.length) {
      const grown = allocTokens(this.tokenType, Math.max(this.used + n, this.tokens.length * 2));
      grown.set(this.tokens.subarray(0, this.used));
      this.tokens = grown;
    }
    this.tokens.set(document as ArrayLike<number>, this.used);
    this.used += n;
    if (this.docs + 2 > this.offsets.length) {
      const grown = new Int32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.docs++;
    this.offsets[this.docs] = this.used;
    this.totalDocuments++;
    this.totalTokens += n;
    if (this.used >= this.recordBatchTokens) this.closeChunk();
  }

  private closeChunk(): void {
    if (this.docs === 0) return;
    // Copies trim the growth slack so the IPC buffers hold exactly the data.
    this.chunks.push({
      tokens: this.tokens.slice(0, this.used),
      offsets: this.offsets.slice(0, this.docs + 1),
    });
    this.used = 0;
    this.docs = 0;
  }

  /** Encodes everything added as one Arrow IPC file. The builder must not be reused afterwards. */
  finish(): EncodedShard {
    this.closeChunk();
    const bytes = encodeTokenShard(this.chunks, this.tokenType, this.column);
    return { bytes, sha256: sha256Hex(bytes), documents: this.totalDocuments, tokens: this.totalTokens };
  }
}

/**
 * Encodes chunks as an Arrow IPC *file* (magic + schema + record batches + footer), one
 * record batch per chunk, readable by pyarrow (`pa.ipc.open_file`) and by {@link readTokenShard}.
 */
export function encodeTokenShard(
  chunks: readonly TokenChunk[],
  tokenType: TokenType,
  column = DEFAULT_TOKEN_COLUMN,
): Uint8Array {
  const schema = tokenShardSchema(tokenType, column);
  const writer = new RecordBatchFileWriter();
  writer.reset(undefined, schema);
  for (const chunk of chunks) writer.write(tokenRecordBatch(schema, chunk));
  writer.finish();
  return writer.toUint8Array(true);
}

/**
 * Writes documents as one shard file, atomically.
 * @param documents token id arrays, one per document
 * @returns the SHA-256 and counts of the written file
 */
export async function writeTokenShard(
  path: string,
  documents: Iterable<ArrayLike<number>>,
  options: TokenShardBuilderOptions,
): Promise<Omit<EncodedShard, 'bytes'> & { bytes: number }> {
  const builder = new TokenShardBuilder(options);
  for (const doc of documents) builder.add(doc);
  const shard = builder.finish();
  await writeFileAtomic(path, shard.bytes);
  return {
    sha256: shard.sha256,
    documents: shard.documents,
    tokens: shard.tokens,
    bytes: shard.bytes.length,
  };
}
