/**
 * Where a loader stands: resuming a loader from it yields exactly the batches that followed.
 * Plain JSON, small: store it in checkpoints. `rank` is informational (any rank may resume from
 * rank 0's cursor); every other field must match the loader that resumes.
 */
export interface LoaderCursor {
  readonly kind: 'dynconv.loader-cursor';
  readonly version: 1;
  /** Fingerprint of the sequence source (corpus + split + sequence length, or synthetic task). */
  readonly source: string;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly worldSize: number;
  readonly dropLast: boolean;
  readonly rank: number;
  /** Epoch of the next batch. */
  readonly epoch: number;
  /** Index within the epoch of the next batch. */
  readonly batch: number;
}

/**
 * One training batch, row-major `[batchSize, seqLen]`.
 *
 * - `inputs[b*T + t]`: token id.
 * - `targets[b*T + t]`: the id to predict at that position (the next token of the same document),
 *   or `-100` where there is none (document end, padding, unlabeled synthetic positions).
 * - `docStart[b*T + t]`: index `s <= t` within the row where the token's document (as visible in
 *   this row) starts; tokens `t` and `u` may attend to each other iff their `docStart` is equal.
 *   `docStart[i] === t` marks a document start (use it to reset convolution state).
 * - `positions[b*T + t] = t - docStart[b*T + t]`: position within the visible document.
 * - `cursor`: the resume point *after* this batch.
 */
export interface Batch {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly docStart: Int32Array;
  readonly positions: Int32Array;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly epoch: number;
  /** Index of this batch within its epoch (for this rank). */
  readonly step: number;
  readonly cursor: LoaderCursor;
}

/** Label value that losses and metrics ignore (PyTorch's `ignore_index` convention). */
export const IGNORE_INDEX = -100;

/** Views of one row of a batch, each of length `seqLen`, for a {@link SequenceSource} to fill. */
export interface SequenceRow {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly docStart: Int32Array;
  readonly positions: Int32Array;
}

/** Which order an epoch uses; sources that shuffle internally (documents) key on it. */
export interface EpochOrder {
  readonly epoch: number;
  readonly seed: number;
  readonly shuffle: boolean;
}

/**
 * Fixed-length sequences that {@link BatchLoader} batches, shards and shuffles: a packed
 * token corpus ({@link PackedSequenceSource}) or a synthetic task ({@link MqarSource}).
 */
export interface SequenceSource {
  readonly seqLen: number;
  /** Sequences per epoch (the same every epoch). */
  readonly length: number;
  /** Identity for resume cursors. */
  readonly fingerprint: string;
  /** Writes sequence `index` (in [0, length)) of the given epoch into `row`; deterministic. */
  fill(row: SequenceRow, index: number, order: EpochOrder): void;
}
