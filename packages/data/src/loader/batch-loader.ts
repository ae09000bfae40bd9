import { CursorMismatchError } from '../errors.js';
import { permutation, Rng } from '../random.js';
import {
  type Batch,
  type EpochOrder,
  IGNORE_INDEX,
  type LoaderCursor,
  type SequenceSource,
} from './batch.js';
import { prefetch } from './prefetch.js';

/** Options of {@link BatchLoader}. */
export interface BatchLoaderOptions {
  /** Sequences per batch on this rank (B). */
  readonly batchSize: number;
  /** Seed of all per-epoch shuffling; default 0. */
  readonly seed?: number;
  /** Shuffle sequences (and, for packed corpora, documents) each epoch; default true. Use false for validation. */
  readonly shuffle?: boolean;
  /** This data-parallel rank in [0, worldSize); default 0. */
  readonly rank?: number;
  /** Number of data-parallel ranks; default 1. */
  readonly worldSize?: number;
  /**
   * Drop the last incomplete global batch of each epoch (default true). When false, it is padded
   * with rows of input 0 and target -100, so every rank still gets the same number of batches.
   */
  readonly dropLast?: boolean;
  /** Stop after this many epochs; default unlimited. */
  readonly epochs?: number;
  /** Batches the async iterator keeps ready; default 2. */
  readonly prefetch?: number;
  /** Continue exactly where a previous loader's batch `cursor` was taken. */
  readonly resume?: LoaderCursor;
}

/**
 * Batches a {@link SequenceSource} for training: per-epoch seeded shuffling, sharding across
 * data-parallel ranks, exact resumption and prefetching.
 *
 * Epoch `e` orders the source's sequences by a permutation drawn from `(seed, e)`. Global batch `j`
 * is positions `[j*B*W, (j+1)*B*W)` of that order and rank `r` takes the `r`-th block of `B`, so the
 * ranks together see every sequence once per epoch and never the same one. Batches are a pure
 * function of `(source, seed, epoch, index, rank)`, which is what makes the cursor exact.
 *
 * Use either the synchronous {@link next} or the async iterator (prefetching), not both.
 */
export class BatchLoader implements AsyncIterable<Batch> {
  readonly source: SequenceSource;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly rank: number;
  readonly worldSize: number;
  readonly dropLast: boolean;
  readonly epochs: number;
  readonly prefetchDepth: number;
  /** Batches per epoch for each rank. */
  readonly batchesPerEpoch: number;
  private epoch: number;
  private batch: number;
  private orderEpoch = -1;
  private order: Uint32Array | undefined;

  constructor(source: SequenceSource, options: BatchLoaderOptions) {
    const { batchSize } = options;
    const worldSize = options.worldSize ?? 1;
    const rank = options.rank ?? 0;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new RangeError(`worldSize must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
      throw new RangeError(`rank ${rank} outside [0, ${worldSize})`);
    this.source = source;
    this.batchSize = batchSize;
    this.seqLen = source.seqLen;
    this.seed = options.seed ?? 0;
    this.shuffle = options.shuffle ?? true;
    this.rank = rank;
    this.worldSize = worldSize;
    this.dropLast = options.dropLast ?? true;
    this.epochs = options.epochs ?? Number.POSITIVE_INFINITY;
    this.prefetchDepth = options.prefetch ?? 2;
    const perGlobalBatch = batchSize * worldSize;
    this.batchesPerEpoch = this.dropLast
      ? Math.floor(source.length / perGlobalBatch)
      : Math.ceil(source.length / perGlobalBatch);
    if (this.batchesPerEpoch === 0) {
      throw new RangeError(
        `${source.length} sequences are fewer than one global batch of ${perGlobalBatch} (use dropLast: false)`,
      );
    }
    this.epoch = 0;
    this.batch = 0;
    if (options.resume !== undefined) this.restore(options.resume);
  }

  /** The resume point of the next batch {@link next} would return. */
  get cursor(): LoaderCursor {
    return this.cursorAt(this.epoch, this.batch);
  }

  /** Produces the next batch synchronously; `undefined` after the last epoch. */
  next(): Batch | undefined {
    if (this.epoch >= this.epochs) return undefined;
    const epoch = this.epoch;
    const step = this.batch;
    const batch = this.build(epoch, step);
    this.batch++;
    if (this.batch === this.batchesPerEpoch) {
      this.batch = 0;
      this.epoch++;
    }
    return { ...batch, cursor: this.cursorAt(this.epoch, this.batch) };
  }

  /** Async iteration with a bounded prefetch queue of {@link prefetchDepth} batches. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    return prefetch(() => this.next(), this.prefetchDepth);
  }

  private build(epoch: number, step: number): Omit<Batch, 'cursor'> {
    const B = this.batchSize;
    const T = this.seqLen;
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    const docStart = new Int32Array(B * T);
    const positions = new Int32Array(B * T);
    const n = this.source.length;
    const order: EpochOrder = { epoch, seed: this.seed, shuffle: this.shuffle };
    const perm = this.orderFor(epoch);
    const base = step * B * this.worldSize + this.rank * B;
    for (let b = 0; b < B; b++) {
      const o = b * T;
      const row = {
        inputs: inputs.subarray(o, o + T),
        targets: targets.subarray(o, o + T),
        docStart: docStart.subarray(o, o + T),
        positions: positions.subarray(o, o + T),
      };
      const slot = base + b;
      if (slot < n) this.source.fill(row, perm !== undefined ? perm[slot]! : slot, order);
      else {
        // Padding row (dropLast: false): one document, nothing to predict.
        row.targets.fill(IGNORE_INDEX);
        for (let t = 0; t < T; t++) row.positions[t] = t;
      }
    }
    return { inputs, targets, docStart, positions, batchSize: B, seqLen: T, epoch, step };
  }

  private orderFor(epoch: number): Uint32Array | undefined {
    if (!this.shuffle) return undefined;
    if (this.orderEpoch !== epoch) {
      this.order = permutation(this.source.length, new Rng(this.seed, epoch, 0x5e9));
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private cursorAt(epoch: number, batch: number): LoaderCursor {
    return {
      kind: 'dynconv.loader-cursor',
      version: 1,
      source: this.source.fingerprint,
      seed: this.seed,
      shuffle: this.shuffle,
      batchSize: this.batchSize,
      seqLen: this.seqLen,
      worldSize: this.worldSize,
      dropLast: this.dropLast,
      rank: this.rank,
      epoch,
      batch,
    };
  }

  private restore(cursor: LoaderCursor): void {
    if (cursor.kind !== 'dynconv.loader-cursor' || cursor.version !== 1)
      throw new CursorMismatchError(
        'kind/version',
        'dynconv.loader-cursor v1',
        `${cursor.kind} v${cursor.version}`,
      );
    const expected = this.cursorAt(0, 0);
    for (const field of [
      'source',
      'seed',
      'shuffle',
      'batchSize',
      'seqLen',
      'worldSize',
      'dropLast',
    ] as const) {
      if (cursor[field] !== expected[field])
        throw new CursorMismatchError(field, expected[field], cursor[field]);
    }
    if (!Number.isInteger(cursor.epoch) || cursor.epoch < 0)
      throw new CursorMismatchError('epoch', 'a non-negative integer', cursor.epoch);
    if (!Number.isInteger(cursor.batch) || cursor.batch < 0 || cursor.batch >= this.batchesPerEpoch) {
      throw new CursorMismatchError('batch', `an integer in [0, ${this.batchesPerEpoch})`, cursor.batch);
    }
    this.epoch = cursor.epoch;
    this.batch = cursor.batch;
  }
}
