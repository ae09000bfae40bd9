import { permutation, type Rng } from '../random.js';
import { PowerLawGaps, sampleDistinct } from './sampling.js';
import { fillRandomNonQueries, type SyntheticTask } from './task.js';

/** Parameters of {@link CompositionalMqarTask}, named as in Zoology's `compositional_mqar`. */
export interface CompositionalMqarOptions {
  /** V, split in thirds; must exceed `seqLen`. */
  readonly vocabSize: number;
  /** T, even. */
  readonly seqLen: number;
  /** N, a perfect square (grid side √N); `6N <= T`. */
  readonly numKvPairs: number;
  /** Default 0.01. */
  readonly powerA?: number;
  /** Default true (Zoology's default). */
  readonly randomNonQueries?: boolean;
}

/**
 * Compositional MQAR with two-token keys, as Zoology's `compositional_mqar`:
 *
 * - vocabulary thirds: K1 from `[1, V/3)`, K2 from `[V/3, 2V/3)`, values from `[2V/3, V)`;
 * - √N distinct K1s and √N distinct K2s form all N grid pairs (so neither component alone
 *   determines a value), in a random order; N distinct values;
 * - context `K1 K2 V` triplets (3N tokens); query region `T − 3N` positions with `K1 K2` at offset
 *   `3·gap_j`, gaps N distinct power-law draws from `{0..(T−3N)/3 − 1}`;
 * - `labels[3N + 3·gap_j + 1] = v_j` (at the K2 of the query), −100 elsewhere; optional random
 *   replacement of the remaining 0s.
 */
export class CompositionalMqarTask implements SyntheticTask {
  readonly name = 'mqar-compositional';
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly numKvPairs: number;
  readonly powerA: number;
  readonly randomNonQueries: boolean;
  readonly fingerprint: string;
  private readonly grid: number;
  private readonly gaps: PowerLawGaps;
  private readonly k1Set: Int32Array;
  private readonly k2Set: Int32Array;
  private readonly values: Int32Array;
  private readonly gapDraws: Int32Array;

  constructor(options: CompositionalMqarOptions) {
    const { vocabSize: V, seqLen: T, numKvPairs: N } = options;
    this.powerA = options.powerA ?? 0.01;
    this.randomNonQueries = options.randomNonQueries ?? true;
    const grid = Math.round(Math.sqrt(N));
    if (!Number.isInteger(T) || T % 2 !== 0) throw new RangeError(`seqLen must be even, got ${T}`);
    if (!(V > T)) throw new RangeError(`vocabSize (${V}) must exceed seqLen (${T})`);
    if (!Number.isInteger(N) || N < 1 || grid * grid !== N)
      throw new RangeError(`numKvPairs must be a perfect square, got ${N}`);
    if (6 * N > T) throw new RangeError(`need 6 tokens per pair: 6N = ${6 * N} > seqLen ${T}`);
    const third = Math.floor(V / 3);
    if (grid > third - 1 || N > V - 2 * third)
      throw new RangeError(`vocabSize ${V} too small for ${N} pairs`);
    this.vocabSize = V;
    this.seqLen = T;
    this.numKvPairs = N;
    this.grid = grid;
    this.gaps = new PowerLawGaps(Math.floor((T - 3 * N) / 3), this.powerA);
    this.k1Set = new Int32Array(grid);
    this.k2Set = new Int32Array(grid);
    this.values = new Int32Array(N);
    this.gapDraws = new Int32Array(N);
    this.fingerprint = `mqar-compositional/v1|V=${V}|T=${T}|N=${N}|a=${this.powerA}|rnq=${this.randomNonQueries}`;
  }

  generate(rng: Rng, inputs: Int32Array, labels: Int32Array): void {
    const { vocabSize: V, numKvPairs: N, grid, k1Set, k2Set, values, gapDraws } = this;
    const third = Math.floor(V / 3);
    sampleDistinct(rng, 1, third, grid, k1Set);
    sampleDistinct(rng, third, 2 * third, grid, k2Set);
    const perm = permutation(N, rng); // shuffle grid pairs so position gives nothing away
    sampleDistinct(rng, 2 * third, V, N, values);
    this.gaps.sample(rng, N, gapDraws);
    inputs.fill(0);
    labels.fill(-100);
    for (let j = 0; j < N; j++) {
      const cell = perm[j]!; // grid cell: k1 = repeat(k1Set, grid), k2 = tile(k2Set, grid)
      const k1 = k1Set[Math.floor(cell / grid)]!;
      const k2 = k2Set[cell % grid]!;
      inputs[3 * j] = k1;
      inputs[3 * j + 1] = k2;
      inputs[3 * j + 2] = values[j]!;
      const at = 3 * N + 3 * gapDraws[j]!;
      inputs[at] = k1;
      inputs[at + 1] = k2;
      labels[at + 1] = values[j]!;
    }
    if (this.randomNonQueries) fillRandomNonQueries(rng, inputs, V);
  }
}
