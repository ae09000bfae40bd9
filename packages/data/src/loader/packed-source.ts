import { createHash } from 'node:crypto';
import { sha256Hex } from '../checksum.js';
import { hashUnit, permutation, Rng } from '../random.js';
import type { TokenCorpus } from '../shards/corpus.js';
import type { TokenArray, TokenChunk } from '../shards/schema.js';
import { type EpochOrder, IGNORE_INDEX, type SequenceRow, type SequenceSource } from './batch.js';

/** Which documents a source uses. */
export type Split = 'train' | 'validation';

/** Options of {@link PackedSequenceSource}. */
export interface PackedSequenceSourceOptions {
  /** Tokens per training sequence (T). */
  readonly seqLen: number;
  /** Default `train`. */
  readonly split?: Split;
  /**
   * Fraction of documents held out for `validation`, chosen by a hash of (splitSeed, document
   * index), so the split is stable across runs, seeds and sequence lengths; default 0.
   */
  readonly validationFraction?: number;
  /** Seed of the train/validation assignment; default 0. */
  readonly splitSeed?: number;
}

/**
 * Packs documents into fixed-length sequences. Each epoch the split's documents are (optionally)
 * shuffled with `(seed, epoch)`, concatenated into one stream and cut into `floor(tokens / seqLen)`
 * windows (the stream's tail shorter than a window is dropped that epoch); the loader then
 * shuffles the order of windows. Targets never cross a document boundary: a document's last token
 * gets -100. Windows are filled by binary search over per-epoch prefix sums, so any window of any
 * epoch is addressable in O(log documents), which makes exact resumption free.
 */
export class PackedSequenceSource implements SequenceSource {
  readonly seqLen: number;
  readonly length: number;
  readonly fingerprint: string;
  /** Documents and tokens in this split. */
  readonly documents: number;
  readonly tokens: number;
  private readonly chunks: readonly TokenArray[];
  private readonly docChunk: Uint32Array;
  private readonly docBegin: Int32Array;
  private readonly docLength: Int32Array;
  private epochKey = '';
  private epochDocs: Uint32Array = new Uint32Array(0);
  private epochPrefix: Float64Array = new Float64Array(1);

  /** @param corpus an opened corpus, or raw chunks (e.g. from {@link readTokenShard}) */
  constructor(corpus: TokenCorpus | readonly TokenChunk[], options: PackedSequenceSourceOptions) {
    const seqLen = options.seqLen;
    if (!Number.isInteger(seqLen) || seqLen < 1)
      throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
    const fraction = options.validationFraction ?? 0;
    if (!(fraction >= 0 && fraction < 1))
      throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
    const split = options.split ?? 'train';
    const splitSeed = options.splitSeed ?? 0;
    const chunks = Array.isArray(corpus)
      ? (corpus as readonly TokenChunk[])
      : (corpus as TokenCorpus).shards.flatMap((s) => s.chunks);

    let total = 0;
    for (const c of chunks) total += c.offsets.length - 1;
    const docChunk = new Uint32Array(total);
    const docBegin = new Int32Array(total);
    const docLength = new Int32Array(total);
    let n = 0;
    let global = 0;
    let tokens = 0;
    chunks.forEach((c, ci) => {
      for (let d = 0; d + 1 < c.offsets.length; d++, global++) {
        const length = c.offsets[d + 1]! - c.offsets[d]!;
        if (length === 0) continue;
        const isValidation = fraction > 0 && hashUnit(splitSeed, global) < fraction;
        if (isValidation !== (split === 'validation')) continue;
        docChunk[n] = ci;
        docBegin[n] = c.offsets[d]!;
        docLength[n] = length;
        tokens += length;
        n++;
      }
    });
    this.chunks = chunks.map((c) => c.tokens);
    this.docChunk = docChunk.slice(0, n);
    this.docBegin = docBegin.slice(0, n);
    this.docLength = docLength.slice(0, n);
    this.documents = n;
    this.tokens = tokens;
    this.seqLen = seqLen;
    this.length = Math.floor(tokens / seqLen);
    if (this.length === 0) {
      throw new RangeError(
        `${split} split has ${tokens} tokens in ${n} documents: fewer than one sequence of ${seqLen}`,
      );
    }
    // Raw chunks have no manifest: hash their tokens (one pass, ~1 GB/s) so cursors cannot cross corpora.
    const identity = Array.isArray(corpus)
      ? `chunks:${chunks.length}:${total}:${hashChunks(chunks)}`
      : `corpus:${(corpus as TokenCorpus).manifest.fingerprint}:${(corpus as TokenCorpus).shards.map((s) => s.sha256).join(',')}`;
    this.fingerprint = sha256Hex(`packed/v1|${identity}|${split}|${fraction}|${splitSeed}|${seqLen}`).slice(
      0,
      32,
    );
  }

  fill(row: SequenceRow, index: number, order: EpochOrder): void {
    this.prepare(order);
    const T = this.seqLen;
    const prefix = this.epochPrefix;
    const docs = this.epochDocs;
    const p0 = index * T;
    // Largest d with prefix[d] <= p0.
    let lo = 0;
    let hi = docs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (prefix[mid]! <= p0) lo = mid;
      else hi = mid - 1;
    }
    let d = lo;
    let t = 0;
    const { inputs, targets, docStart, positions } = row;
    while (t < T) {
      const doc = docs[d]!;
      const tokens = this.chunks[this.docChunk[doc]!]!;
      const begin = this.docBegin[doc]!;
      const length = this.docLength[doc]!;
      const within = p0 + t - prefix[d]!; // tokens of this document before the window
      const take = Math.min(length - within, T - t);
      const a = begin + within;
      inputs.set(tokens.subarray(a, a + take), t);
      const endsHere = within + take === length;
      // Next-token targets; the document's last token has none.
      targets.set(tokens.subarray(a + 1, a + take + (endsHere ? 0 : 1)), t);
      if (endsHere) targets[t + take - 1] = IGNORE_INDEX;
      docStart.fill(t, t, t + take);
      for (let i = 0; i < take; i++) positions[t + i] = i;
      t += take;
      d++;
    }
  }

  /** Per-epoch document order and prefix sums (cached for the current epoch). */
  private prepare(order: EpochOrder): void {
    const key = `${order.shuffle ? order.seed : 'fixed'}|${order.shuffle ? order.epoch : 0}`;
    if (key === this.epochKey) return;
    const n = this.documents;
    const docs = order.shuffle
      ? permutation(n, new Rng(order.seed, order.epoch, 0x0d0c))
      : Uint32Array.from({ length: n }, (_, i) => i);
    const prefix = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + this.docLength[docs[i]!]!;
    this.epochDocs = docs;
    this.epochPrefix = prefix;
    this.epochKey = key;
  }
}

function hashChunks(chunks: readonly TokenChunk[]): string {
  const hash = createHash('sha256');
  for (const { tokens, offsets } of chunks) {
    hash.update(new Uint8Array(offsets.buffer, offsets.byteOffset, offsets.byteLength));
    hash.update(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  }
  return hash.digest('hex');
}
