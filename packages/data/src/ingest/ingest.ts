import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { syncDirectory, TEMP_PREFIX } from '../atomic-write.js';
import { sha256File, sha256Hex } from '../checksum.js';
import { DataError } from '../errors.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  readManifest,
  type ShardEntry,
  type SourceEntry,
  writeManifest,
} from '../shards/manifest.js';
import { readTokenShard } from '../shards/reader.js';
import { DEFAULT_TOKEN_COLUMN, type TokenType, tokenTypeForVocab, tokenTypeLimit } from '../shards/schema.js';
import { TokenShardBuilder } from '../shards/writer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { readArrowDocuments } from './arrow.js';
import { formatFromExtension, type InputFormat, type SourceDocument, type TextSplit } from './document.js';
import { readJsonlDocuments } from './jsonl.js';
import { readParquetDocuments } from './parquet.js';
import { readTextDocuments } from './text.js';

/** One input with per-file settings; unset fields fall back to {@link IngestOptions}. */
export interface IngestInput {
  readonly path: string;
  /** Default: from the extension (`.txt/.md`, `.jsonl/.ndjson`, `.parquet`, `.arrow/.arrows/.feather/.ipc`). */
  readonly format?: InputFormat;
  /** JSONL field or Parquet/Arrow column holding the text. */
  readonly field?: string;
  /** How plain text is cut into documents. */
  readonly textSplit?: TextSplit;
}

/** Options of {@link ingest}. */
export interface IngestOptions {
  readonly inputs: readonly (string | IngestInput)[];
  /** Output folder for shards and `manifest.json` (created if needed). */
  readonly outDir: string;
  readonly tokenizer: Tokenizer;
  /** Default text field/column; default `text`. */
  readonly field?: string;
  /** Default cutting of plain text; default `file` (one document per file). */
  readonly textSplit?: TextSplit;
  /** A shard is closed before a document that would take it past this many tokens; default 2^26. */
  readonly maxShardTokens?: number;
  /** Tokens per Arrow record batch inside a shard; default 2^20. */
  readonly recordBatchTokens?: number;
  /** Token element type; default the smallest that fits the vocabulary. */
  readonly tokenType?: TokenType;
  /** Rewrite even when the existing manifest already matches these inputs; default false. */
  readonly force?: boolean;
}

/** What {@link ingest} did. */
export interface IngestResult {
  readonly manifest: Manifest;
  readonly manifestPath: string;
  /** True when a matching, intact output already existed and nothing was written. */
  readonly reused: boolean;
}

/**
 * Tokenizes text inputs into Arrow IPC token shards plus a manifest.
 *
 * - One row per document in a `List<Uint16|Uint32>` column (`tokens`); empty and null documents
 *   are skipped (counted in `skippedDocuments`).
 * - Shards hold at most `maxShardTokens` tokens (a single longer document gets its own shard) and are
 *   content-named (`shard-00000-<sha256 prefix>.arrow`).
 * - Atomic: everything is written to a temporary folder inside `outDir`, moved into place, and the
 *   manifest is replaced last (atomically); a failure removes all new files, leaving the previous
 *   output intact. Afterwards, `shard-*.arrow` files the new manifest does not list are deleted
 *   (the folder belongs to the corpus).
 * - Idempotent: the manifest stores a fingerprint of the inputs' contents, tokenizer and options;
 *   re-running with the same ones verifies the existing shards and returns `reused: true`.
 *
 * Throws {@link DataError}: `missing` input, `bad-input`/`column-*`/`corrupt` records (naming the file and
 * record or byte offset), `token-range` if the tokenizer emits an id >= its vocabulary size, and
 * `empty-corpus` when no document has any token.
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const { tokenizer } = options;
  const outDir = resolve(options.outDir);
  const tokenType = options.tokenType ?? tokenTypeForVocab(tokenizer.vocabSize);
  if (tokenizer.vocabSize > tokenTypeLimit(tokenType)) {
    throw new RangeError(`vocabulary of ${tokenizer.vocabSize} ids does not fit ${tokenType}`);
  }
  const maxShardTokens = Math.max(1, options.maxShardTokens ?? 2 ** 26);
  const recordBatchTokens = Math.max(1, options.recordBatchTokens ?? 2 ** 20);
  const inputs = options.inputs.map((i) => resolveInput(i, options));
  if (inputs.length === 0) throw new DataError('empty-corpus', { file: outDir }, 'no inputs given');

  const hashed = [];
  for (const input of inputs) {
    let bytes: number;
    try {
      bytes = (await stat(input.path)).size;
    } catch {
      throw new DataError('missing', { file: input.path }, 'input file does not exist');
    }
    hashed.push({ ...input, bytes, sha256: await sha256File(input.path) });
  }
  const fingerprint = sha256Hex(
    JSON.stringify({
      v: MANIFEST_VERSION,
      tokenizer: { id: tokenizer.id, hash: tokenizer.hash, vocabSize: tokenizer.vocabSize },
      tokenType,
      maxShardTokens,
      recordBatchTokens,
      inputs: hashed.map((i) => ({
        format: i.format,
        field: i.field,
        textSplit: i.textSplit,
        sha256: i.sha256,
      })),
    }),
  );

  await mkdir(outDir, { recursive: true });
  const previous = await readManifest(outDir).catch(() => undefined);
  if (!options.force && previous?.fingerprint === fingerprint && (await intact(outDir, previous))) {
    return { manifest: previous, manifestPath: join(outDir, 'manifest.json'), reused: true };
  }
  await removeStaleTemporaries(outDir);

  const staging = join(outDir, `${TEMP_PREFIX}ingest-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    const shards: ShardEntry[] = [];
    const sources: SourceEntry[] = [];
    let builder = new TokenShardBuilder({ tokenType, recordBatchTokens });
    let documents = 0;
    let tokens = 0;
    let skipped = 0;
    const closeShard = async () => {
      if (builder.documents === 0) return;
      const shard = builder.finish();
      const file = `shard-${String(shards.length).padStart(5, '0')}-${shard.sha256.slice(0, 12)}.arrow`;
      await writeFile(join(staging, file), shard.bytes, { flag: 'wx' });
      shards.push({
        file,
        documents: shard.documents,
        tokens: shard.tokens,
        bytes: shard.bytes.length,
        sha256: shard.sha256,
      });
      builder = new TokenShardBuilder({ tokenType, recordBatchTokens });
    };
    for (const input of hashed) {
      let fromInput = 0;
      for await (const doc of readDocuments(input)) {
        if (doc.text === null || doc.text.length === 0) {
          skipped++;
          continue;
        }
        const ids = tokenizer.encode(doc.text);
        if (ids.length === 0) {
          skipped++;
          continue;
        }
        checkIds(ids, tokenizer, input.path, doc);
        if (builder.documents > 0 && builder.tokenCount + ids.length > maxShardTokens) await closeShard();
        builder.add(ids);
        fromInput++;
        tokens += ids.length;
      }
      documents += fromInput;
      sources.push({
        path: input.path,
        format: input.format,
        bytes: input.bytes,
        sha256: input.sha256,
        documents: fromInput,
      });
    }
    if (documents === 0) {
      throw new DataError(
        'empty-corpus',
        { file: inputs[0]!.path },
        `no document with at least one token in ${inputs.map((i) => i.path).join(', ')} (${skipped} empty records)`,
      );
    }
    await closeShard();

    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      tokenizer: { id: tokenizer.id, hash: tokenizer.hash, vocabSize: tokenizer.vocabSize },
      tokenType,
      column: DEFAULT_TOKEN_COLUMN,
      documents,
      tokens,
      skippedDocuments: skipped,
      fingerprint,
      sources,
      shards,
    };
    await syncFiles(staging);
    // Shards first (content-named, so an old manifest never points at a changed file), manifest last.
    for (const s of shards) await rename(join(staging, s.file), join(outDir, s.file));
    await syncDirectory(outDir);
    await writeManifest(outDir, manifest);
    // Drop shards no manifest refers to any more: the previous run's, or a crashed run's.
    const keep = new Set(shards.map((s) => s.file));
    for (const name of await readdir(outDir)) {
      if (SHARD_NAME.test(name) && !keep.has(name)) await rm(join(outDir, name), { force: true });
    }
    return { manifest, manifestPath: join(outDir, 'manifest.json'), reused: false };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Names of the shard files {@link ingest} writes (content-addressed). */
const SHARD_NAME = /^shard-\d{5}-[0-9a-f]{12}\.arrow$/;

interface ResolvedInput {
  readonly path: string;
  readonly format: InputFormat;
  readonly field: string;
  readonly textSplit: TextSplit;
}

function resolveInput(input: string | IngestInput, options: IngestOptions): ResolvedInput {
  const spec = typeof input === 'string' ? { path: input } : input;
  const format = spec.format ?? formatFromExtension(spec.path);
  if (format === undefined) {
    throw new DataError(
      'bad-input',
      { file: spec.path },
      'unknown input format: pass { path, format } with text, jsonl, parquet or arrow',
    );
  }
  return {
    path: resolve(spec.path),
    format,
    field: spec.field ?? options.field ?? 'text',
    textSplit: spec.textSplit ?? options.textSplit ?? 'file',
  };
}

function readDocuments(input: ResolvedInput): AsyncGenerator<SourceDocument> {
  switch (input.format) {
    case 'text':
      return readTextDocuments(input.path, input.textSplit);
    case 'jsonl':
      return readJsonlDocuments(input.path, input.field);
    case 'parquet':
      return readParquetDocuments(input.path, input.field);
    case 'arrow':
      return readArrowDocuments(input.path, input.field);
  }
}

function checkIds(ids: ArrayLike<number>, tokenizer: Tokenizer, file: string, doc: SourceDocument): void {
  const limit = tokenizer.vocabSize;
  if (ids instanceof Uint8Array && limit >= 256) return;
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i]! < limit)) {
      throw new DataError(
        'token-range',
        { file, record: doc.record, ...(doc.offset !== undefined ? { offset: doc.offset } : {}) },
        `tokenizer ${tokenizer.id} produced id ${ids[i]} >= its vocabulary size ${limit}`,
      );
    }
  }
}

/** True when every shard of `manifest` exists with its recorded checksum. */
async function intact(dir: string, manifest: Manifest): Promise<boolean> {
  try {
    for (const s of manifest.shards)
      await readTokenShard(join(dir, s.file), { column: manifest.column, sha256: s.sha256 });
    return true;
  } catch {
    return false;
  }
}

/** fsyncs every file in a folder so that the renames that follow publish durable data. */
async function syncFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const fh = await open(join(dir, name), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** Removes temporaries left by crashed runs (their pid, the second-to-last `-` field, is gone). */
async function removeStaleTemporaries(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const pid = Number(name.split('-').at(-2));
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
