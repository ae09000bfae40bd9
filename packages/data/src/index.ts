/**
 * @dynconv/data — Arrow-backed data pipeline: tokenizers, ingestion into token shards, a packing
 * loader with exact resume, and synthetic associative-recall tasks.
 */

export { TEMP_PREFIX, writeFileAtomic } from './atomic-write.js';
export { sha256File, sha256Hex } from './checksum.js';
export { decodeLz4Frame, registerArrowCodecs } from './compression/lz4-frame.js';
export { CursorMismatchError, DataError, type DataErrorCode, type DataErrorLocation } from './errors.js';
export { readArrowDocuments } from './ingest/arrow.js';
export {
  formatFromExtension,
  type InputFormat,
  type SourceDocument,
  type TextSplit,
} from './ingest/document.js';
export { type IngestInput, type IngestOptions, type IngestResult, ingest } from './ingest/ingest.js';
export { readJsonlDocuments } from './ingest/jsonl.js';
export { readParquetDocuments } from './ingest/parquet.js';
export { readTextDocuments } from './ingest/text.js';
export {
  type Batch,
  type EpochOrder,
  IGNORE_INDEX,
  type LoaderCursor,
  type SequenceRow,
  type SequenceSource,
} from './loader/batch.js';
export { BatchLoader, type BatchLoaderOptions } from './loader/batch-loader.js';
export {
  PackedSequenceSource,
  type PackedSequenceSourceOptions,
  type Split,
} from './loader/packed-source.js';
export { prefetch } from './loader/prefetch.js';
export { hashKeys, hashUnit, mix32, permutation, Rng } from './random.js';
export { type OpenTokenCorpusOptions, openTokenCorpus, type TokenCorpus } from './shards/corpus.js';
export {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  readManifest,
  type ShardEntry,
  type SourceEntry,
  validateManifest,
  writeManifest,
} from './shards/manifest.js';
export {
  decodeTokenShard,
  type ReadTokenShardOptions,
  readTokenShard,
  type TokenShard,
} from './shards/reader.js';
export {
  DEFAULT_TOKEN_COLUMN,
  type TokenArray,
  type TokenChunk,
  type TokenType,
  tokenRecordBatch,
  tokenShardSchema,
  tokenTypeForVocab,
} from './shards/schema.js';
export {
  type EncodedShard,
  encodeTokenShard,
  TokenShardBuilder,
  type TokenShardBuilderOptions,
  writeTokenShard,
} from './shards/writer.js';
export { type MqarOptions, MqarTask } from './synthetic/mqar.js';
export { type CompositionalMqarOptions, CompositionalMqarTask } from './synthetic/mqar-compositional.js';
export {
  KEY_DELIMITER,
  type VariableKeyMqarOptions,
  VariableKeyMqarTask,
} from './synthetic/mqar-variable-keys.js';
export { PowerLawGaps, sampleDistinct } from './synthetic/sampling.js';
export {
  generateExamples,
  SyntheticSource,
  type SyntheticSourceOptions,
} from './synthetic/synthetic-source.js';
export type { SyntheticTask } from './synthetic/task.js';
export { type TrainByteLevelBpeOptions, trainByteLevelBpe } from './tokenizer/bpe-train.js';
export { ByteLevelTokenizer } from './tokenizer/byte-level.js';
export {
  type BpeMerge,
  type ByteLevelBpeOptions,
  ByteLevelBpeTokenizer,
  MAX_BPE_VOCAB,
} from './tokenizer/byte-level-bpe.js';
export {
  BYTE_LEVEL_SPLIT,
  BYTE_TO_CHAR,
  CHAR_TO_BYTE,
  splitPieces,
} from './tokenizer/byte-level-pretokenize.js';
export { HuggingFaceTokenizer, type HuggingFaceTokenizerOptions } from './tokenizer/huggingface.js';
export type { TokenIds, Tokenizer } from './tokenizer/tokenizer.js';
