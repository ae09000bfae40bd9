import { join } from 'node:path';
import { DataError } from '../errors.js';
import { type Manifest, readManifest } from './manifest.js';
import { readTokenShard, type TokenShard } from './reader.js';

/**
 * A tokenized corpus in memory: every shard of a manifest, checksums verified and token ids
 * checked against the tokenizer's vocabulary. Documents are numbered globally in manifest
 * order (shard by shard, record batch by record batch).
 */
export interface TokenCorpus {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly shards: readonly TokenShard[];
  readonly documents: number;
  readonly tokens: number;
  readonly vocabSize: number;
}

/** Options of {@link openTokenCorpus}. */
export interface OpenTokenCorpusOptions {
  /** Scan every token id against the vocabulary size (one pass over the data); default true. */
  readonly checkTokenRange?: boolean;
}

/**
 * Opens the shard folder `dir` written by {@link ingest}: reads the manifest, then every shard,
 * verifying each shard's SHA-256 and size against the manifest and its counts after decoding.
 * Throws {@link DataError} (`missing`, `checksum`, `truncated`, `corrupt`, `column-type`,
 * `token-range`, `manifest`) naming the offending file.
 */
export async function openTokenCorpus(
  dir: string,
  options: OpenTokenCorpusOptions = {},
): Promise<TokenCorpus> {
  const manifest = await readManifest(dir);
  const vocabSize = manifest.tokenizer.vocabSize;
  const shards: TokenShard[] = [];
  for (const entry of manifest.shards) {
    const file = join(dir, entry.file);
    const shard = await readTokenShard(file, {
      column: manifest.column,
      sha256: entry.sha256,
      ...(options.checkTokenRange === false ? {} : { vocabSize }),
    });
    if (
      shard.documents !== entry.documents ||
      shard.tokens !== entry.tokens ||
      shard.tokenType !== manifest.tokenType
    ) {
      throw new DataError(
        'manifest',
        { file },
        `shard holds ${shard.documents} documents / ${shard.tokens} ${shard.tokenType} tokens, manifest says ${entry.documents} / ${entry.tokens} ${manifest.tokenType}`,
      );
    }
    shards.push(shard);
  }
  return { dir, manifest, shards, documents: manifest.documents, tokens: manifest.tokens, vocabSize };
}
