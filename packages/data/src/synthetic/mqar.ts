import type { Rng } from '../random.js';
import { PowerLawGaps, sampleDistinct } from './sampling.js';
import { fillRandomNonQueries, type SyntheticTask } from './task.js';

/** Parameters of {@link MqarTask}, named as in Zoology's `multiquery_ar`. */
export interface MqarOptions {
  /** V; Zoology's sweeps use 8192. Must exceed `seqLen`. */
  readonly vocabSize: number;
  /** T, even. */
  readonly seqLen: number;
  /** N key-value pairs; `4N <= T`. */
  readonly numKvPairs: number;
  /** Power-law exponent `a` of the query gaps; default 0.01. */
  readonly powerA?: number;
  /** Replace the 0 fillers of the query region by uniform tokens in [0, V); default true (Zoology's default; its Figure-2 sweep used false). */
  readonly randomNonQueries?: boolean;
}

/**
 * Multi-query associative recall exactly as Zoology's `multiquery_ar` (num_passes = 1) lays it out:
 *
 * - keys: N distinct tokens from `[1, V/2)`; values: N distinct tokens from `[V/2, V)`;
 * - context `k1 v1 k2 v2 … kN vN` (2N tokens), then the query region of `T − 2N` positions, all 0
 *   except key `k_j` at offset `2·gap_j`, where the gaps are N distinct draws from
 *   `{0..(T−2N)/2 − 1}` with `p(i) ∝ a·i^(a−1)`;
 * - `labels[2N + 2·gap_j] = v_j` (the query position itself: the value is the next token), −100
 *   elsewhere; then, if `randomNonQueries`, every remaining 0 becomes a uniform token in [0, V).
 *
 * The random stream is this package's own PRNG, so examples match Zoology in distribution and
 * layout, not bit for bit (numpy's generator is not reproduced).
 */
export class MqarTask implements SyntheticTask {
  readonly name = 'mqar';
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly numKvPairs: number;
  readonly powerA: number;
  readonly randomNonQueries: boolean;
  readonly fingerprint: string;
  private readonly gaps: PowerLawGaps;
  private readonly keys: Int32Array;
  private readonly values: Int32Array;
  private readonly gapDraws: Int32Array;

  constructor(options: MqarOptions) {
    const { vocabSize: V, seqLen: T, numKvPairs: N } = options;
    this.powerA = options.powerA ?? 0.01;
    this.randomNonQueries = options.randomNonQueries ?? true;
    if (!Number.isInteger(T) || T % 2 !== 0) throw new RangeError(`seqLen must be even, got ${T}`);
    if (!(V > T)) throw new RangeError(`vocabSize (${V}) must exceed seqLen (${T})`);
    if (!Number.isInteger(N) || N < 1 || 4 * N > T)
      throw new RangeError(`numKvPairs must satisfy 1 <= N and 4N <= seqLen (N=${N}, T=${T})`);
    if (N > Math.floor(V / 2) - 1)
      throw new RangeError(`numKvPairs ${N} exceeds the ${Math.floor(V / 2) - 1} key tokens`);
    this.vocabSize = V;
    this.seqLen = T;
    this.numKvPairs = N;
    this.gaps = new PowerLawGaps((T - 2 * N) / 2, this.powerA);
    this.keys = new Int32Array(N);
    this.values = new Int32Array(N);
    this.gapDraws = new Int32Array(N);
    this.fingerprint = `mqar/v1|V=${V}|T=${T}|N=${N}|a=${this.powerA}|rnq=${this.randomNonQueries}`;
  }

  generate(rng: Rng, inputs: Int32Array, labels: Int32Array): void {
    const { vocabSize: V, numKvPairs: N, keys, values, gapDraws } = this;
    const half = Math.floor(V / 2);
    sampleDistinct(rng, 1, half, N, keys);
    sampleDistinct(rng, half, V, N, values);
    this.gaps.sample(rng, N, gapDraws);
    inputs.fill(0);
    labels.fill(-100);
    for (let j = 0; j < N; j++) {
      inputs[2 * j] = keys[j]!;
      inputs[2 * j + 1] = values[j]!;
      const at = 2 * N + 2 * gapDraws[j]!;
      inputs[at] = keys[j]!;
      labels[at] = values[j]!;
    }
    if (this.randomNonQueries) fillRandomNonQueries(rng, inputs, V);
  }
}
