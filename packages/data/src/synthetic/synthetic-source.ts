import { sha256Hex } from '../checksum.js';
import type { EpochOrder, SequenceRow, SequenceSource } from '../loader/batch.js';
import type { Split } from '../loader/packed-source.js';
import { mix32, Rng } from '../random.js';
import type { SyntheticTask } from './task.js';

/** Options of {@link SyntheticSource}. */
export interface SyntheticSourceOptions {
  /** Default `train`. */
  readonly split?: Split;
  /** Examples in this split (Zoology: 100,000 train / 3,000 test). */
  readonly numExamples: number;
  /** Seed of the example stream; default 0. */
  readonly seed?: number;
  /**
   * Share of the example space reserved for validation, in 1/1024 steps; default 1/16.
   * Only changes generation cost (train rejects this share, validation keeps only it).
   */
  readonly validationShare?: number;
}

const BUCKETS = 1024;

/**
 * A synthetic task as a {@link SequenceSource}: example `i` of a split is a pure function of
 * `(seed, split, i)`, so any example is addressable and batches resume exactly.
 *
 * Train and validation never share an example: every candidate example is assigned to a split
 * by a hash of its input tokens, and each split keeps drawing (from its own stream) until a
 * candidate of its own split comes up. Identical inputs always hash alike, so no sequence can be
 * in both splits, whatever the seeds and sizes.
 *
 * Rows: `inputs` = the example, `targets` = its labels (−100 except at queries), one document per
 * row (`docStart` 0, `positions` 0..T−1).
 */
export class SyntheticSource implements SequenceSource {
  readonly task: SyntheticTask;
  readonly seqLen: number;
  readonly length: number;
  readonly fingerprint: string;
  readonly split: Split;
  readonly seed: number;
  private readonly validationBuckets: number;

  constructor(task: SyntheticTask, options: SyntheticSourceOptions) {
    const share = options.validationShare ?? 1 / 16;
    const buckets = Math.round(share * BUCKETS);
    if (!(buckets >= 1 && buckets < BUCKETS))
      throw new RangeError(`validationShare must be in [1/1024, 1), got ${share}`);
    if (!Number.isInteger(options.numExamples) || options.numExamples < 1) {
      throw new RangeError(`numExamples must be a positive integer, got ${options.numExamples}`);
    }
    this.task = task;
    this.seqLen = task.seqLen;
    this.length = options.numExamples;
    this.split = options.split ?? 'train';
    this.seed = options.seed ?? 0;
    this.validationBuckets = buckets;
    this.fingerprint = sha256Hex(
      `synthetic/v1|${task.fingerprint}|${this.split}|${this.length}|${this.seed}|${buckets}`,
    ).slice(0, 32);
  }

  /** True when an example with these inputs belongs to the validation split. */
  isValidationExample(inputs: Int32Array): boolean {
    return contentBucket(inputs) < this.validationBuckets;
  }

  /** Writes example `index` of this split into `inputs`/`labels` (length `seqLen` each). */
  example(index: number, inputs: Int32Array, labels: Int32Array): void {
    const wantValidation = this.split === 'validation';
    const splitTag = wantValidation ? 2 : 1;
    for (let attempt = 0; ; attempt++) {
      this.task.generate(new Rng(this.seed, splitTag, index, attempt), inputs, labels);
      if (this.isValidationExample(inputs) === wantValidation) return;
      if (attempt > 1_000_000)
        throw new Error(`cannot draw a ${this.split} example: the task's example space is too small`);
    }
  }

  fill(row: SequenceRow, index: number, _order: EpochOrder): void {
    this.example(index, row.inputs, row.targets);
    row.docStart.fill(0);
    for (let t = 0; t < this.seqLen; t++) row.positions[t] = t;
  }
}

/** FNV-1a over the 32-bit tokens, avalanched, reduced to a bucket in [0, 1024). */
function contentBucket(inputs: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < inputs.length; i++) h = Math.imul(h ^ inputs[i]!, 0x01000193);
  return mix32(h) % BUCKETS;
}

/**
 * Generates `count` examples of a split as flat `[count, T]` arrays (e.g. to evaluate or dump).
 * Same examples as the loader sees for indices `0..count-1`.
 */
export function generateExamples(
  source: SyntheticSource,
  count: number,
  start = 0,
): { inputs: Int32Array; labels: Int32Array } {
  const T = source.seqLen;
  const inputs = new Int32Array(count * T);
  const labels = new Int32Array(count * T);
  for (let i = 0; i < count; i++)
    source.example(start + i, inputs.subarray(i * T, (i + 1) * T), labels.subarray(i * T, (i + 1) * T));
  return { inputs, labels };
}
