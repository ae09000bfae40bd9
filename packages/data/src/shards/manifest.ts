import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { DataError } from '../errors.js';
import type { TokenType } from './schema.js';

/** File name of the manifest inside a shard folder. */
export const MANIFEST_FILE = 'manifest.json';
/** `format` field value of manifests this package writes. */
export const MANIFEST_FORMAT = 'dynconv.tokens';
/** Manifest schema version. */
export const MANIFEST_VERSION = 1;

/** One shard as the manifest records it. */
export interface ShardEntry {
  /** File name relative to the manifest's folder. */
  readonly file: string;
  readonly documents: number;
  readonly tokens: number;
  /** File size in bytes. */
  readonly bytes: number;
  /** Hex SHA-256 of the file; verified whenever the shard is opened. */
  readonly sha256: string;
}

/** One ingested input as the manifest records it. */
export interface SourceEntry {
  readonly path: string;
  readonly format: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Documents taken from this input (non-empty after tokenization). */
  readonly documents: number;
}

/**
 * Describes a tokenized corpus: which tokenizer made it, counts, and each shard's checksum.
 *
 * Shape (JSON): `{ format: 'dynconv.tokens', version: 1, tokenizer: { id, hash, vocabSize },
 * tokenType, column, documents, tokens, skippedDocuments, fingerprint, sources: SourceEntry[],
 * shards: ShardEntry[] }`.
 */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  readonly tokenizer: { readonly id: string; readonly hash: string; readonly vocabSize: number };
  readonly tokenType: TokenType;
  readonly column: string;
  readonly documents: number;
  readonly tokens: number;
  /** Input records dropped because they were empty (or null) or tokenized to nothing. */
  readonly skippedDocuments: number;
  /** Hash of inputs + tokenizer + options; equal fingerprints mean ingestion would write the same shards. */
  readonly fingerprint: string;
  readonly sources: readonly SourceEntry[];
  readonly shards: readonly ShardEntry[];
}

/** Writes `manifest.json` into `dir` atomically. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Reads and validates `dir/manifest.json`. Throws {@link DataError} `missing` when absent and
 * `manifest` when it is not valid JSON or its fields are inconsistent.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DataError('missing', { file }, 'no manifest in this folder');
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DataError('manifest', { file }, `invalid JSON: ${(error as Error).message}`, { cause: error });
  }
  return validateManifest(file, json);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

/** Checks the shape and internal consistency of a parsed manifest (counts add up, hashes well formed). */
export function validateManifest(file: string, json: unknown): Manifest {
  const fail = (detail: string): never => {
    throw new DataError('manifest', { file }, detail);
  };
  if (typeof json !== 'object' || json === null) return fail('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m['format'] !== MANIFEST_FORMAT)
    fail(`format is ${JSON.stringify(m['format'])}, expected "${MANIFEST_FORMAT}"`);
  if (m['version'] !== MANIFEST_VERSION) fail(`unsupported version ${JSON.stringify(m['version'])}`);
  const tok = m['tokenizer'] as Record<string, unknown> | undefined;
  if (
    typeof tok !== 'object' ||
    tok === null ||
    typeof tok['id'] !== 'string' ||
    typeof tok['hash'] !== 'string'
  ) {
    fail('tokenizer must be { id, hash, vocabSize }');
  }
  if (!isCount(tok!['vocabSize']) || tok!['vocabSize'] === 0)
    fail('tokenizer.vocabSize must be a positive integer');
  if (m['tokenType'] !== 'uint16' && m['tokenType'] !== 'uint32')
    fail('tokenType must be "uint16" or "uint32"');
  if (typeof m['column'] !== 'string') fail('column must be a string');
  for (const k of ['documents', 'tokens', 'skippedDocuments'])
    if (!isCount(m[k])) fail(`${k} must be a non-negative integer`);
  if (typeof m['fingerprint'] !== 'string') fail('fingerprint must be a string');
  if (!Array.isArray(m['sources'])) fail('sources must be an array');
  if (!Array.isArray(m['shards'])) fail('shards must be an array');
  let documents = 0;
  let tokens = 0;
  const names = new Set<string>();
  for (const [i, s] of (m['shards'] as unknown[]).entries()) {
    const e = s as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) return fail(`shards[${i}] is not an object`);
    if (
      typeof e['file'] !== 'string' ||
      e['file'].includes('/') ||
      e['file'].includes('\\') ||
      e['file'].startsWith('.')
    ) {
      fail(`shards[${i}].file must be a plain file name in the manifest's folder`);
    }
    if (names.has(e['file'] as string)) fail(`shards[${i}].file "${e['file']}" is listed twice`);
    names.add(e['file'] as string);
    for (const k of ['documents', 'tokens', 'bytes'])
      if (!isCount(e[k])) fail(`shards[${i}].${k} must be a non-negative integer`);
    if (!isHex(e['sha256'])) fail(`shards[${i}].sha256 must be 64 lowercase hex digits`);
    documents += e['documents'] as number;
    tokens += e['tokens'] as number;
  }
  if (documents !== m['documents'])
    fail(`shard documents add up to ${documents}, manifest says ${m['documents']}`);
  if (tokens !== m['tokens']) fail(`shard tokens add up to ${tokens}, manifest says ${m['tokens']}`);
  return json as Manifest;
}
