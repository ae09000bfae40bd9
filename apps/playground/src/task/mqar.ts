import type { SeededRandom } from './seeded-random.js';

/**
 * Multi-query associative recall (Zoology's `multiquery_ar`, method.md §5.1),
 * written here rather than imported from `@dynconv/data` because that package
 * pulls Node built-ins (file shards, `node:crypto`) into a browser bundle.
 *
 * Layout of one sequence of length T with N pairs:
 *   keys from [1, V/2), values from [V/2, V), all distinct;
 *   context `k1 v1 … kN vN`, then a query region of T − 2N positions, all 0
 *   except key k_j at offset 2·gap_j, gaps drawn without replacement with
 *   p(i) ∝ a·i^(a−1) (a = 0.01 favours short gaps);
 *   label at k_j's query position = v_j, −100 (ignored) everywhere else.
 */
export interface MqarConfig {
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly numKvPairs: number;
  /** Power-law exponent of the query gaps (default 0.01). */
  readonly powerA?: number;
}

export interface MqarBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  /** i32 `[batch, seqLen]`, row-major. */
  readonly inputs: Int32Array;
  /** i32 `[batch, seqLen]`; −100 where nothing is asked. */
  readonly labels: Int32Array;
  /** Number of labelled positions (the accuracy denominator). */
  readonly queries: number;
}

export const IGNORE_INDEX = -100;

export function validateMqarConfig(config: MqarConfig): void {
  const { vocabSize: V, seqLen: T, numKvPairs: N } = config;
  if (!Number.isInteger(T) || T % 2 !== 0) throw new RangeError(`MQAR seqLen must be even, got ${T}`);
  if (!Number.isInteger(N) || N < 1 || 4 * N > T)
    throw new RangeError(`MQAR needs 1 <= N and 4N <= T (N=${N}, T=${T})`);
  if (N > Math.floor(V / 2) - 1)
    throw new RangeError(`MQAR: ${N} pairs do not fit ${Math.floor(V / 2) - 1} key tokens`);
}

/** One batch; all randomness comes from `rng`. */
export function mqarBatch(config: MqarConfig, batchSize: number, rng: SeededRandom): MqarBatch {
  validateMqarConfig(config);
  const { seqLen: T } = config;
  const inputs = new Int32Array(batchSize * T);
  const labels = new Int32Array(batchSize * T).fill(IGNORE_INDEX);
  const gapWeights = powerLawWeights((T - 2 * config.numKvPairs) / 2, config.powerA ?? 0.01);
  for (let b = 0; b < batchSize; b++) {
    writeSequence(
      config,
      gapWeights,
      rng,
      inputs.subarray(b * T, (b + 1) * T),
      labels.subarray(b * T, (b + 1) * T),
    );
  }
  return { batchSize, seqLen: T, inputs, labels, queries: batchSize * config.numKvPairs };
}

function writeSequence(
  config: MqarConfig,
  gapWeights: Float64Array,
  rng: SeededRandom,
  inputs: Int32Array,
  labels: Int32Array,
): void {
  const { vocabSize: V, numKvPairs: N } = config;
  const half = Math.floor(V / 2);
  const keys = distinct(rng, 1, half, N);
  const values = distinct(rng, half, V, N);
  const gaps = weightedDistinct(rng, gapWeights, N);
  for (let j = 0; j < N; j++) {
    inputs[2 * j] = keys[j]!;
    inputs[2 * j + 1] = values[j]!;
    const at = 2 * N + 2 * gaps[j]!;
    inputs[at] = keys[j]!;
    labels[at] = values[j]!;
  }
}

/** `n` distinct integers from [lo, hi) by partial Fisher–Yates. */
function distinct(rng: SeededRandom, lo: number, hi: number, n: number): number[] {
  const pool = Array.from({ length: hi - lo }, (_, i) => lo + i);
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

/** w(i) = a·i^(a−1) for gap values 0..space−1 (i = gap + 1). */
function powerLawWeights(space: number, a: number): Float64Array {
  return Float64Array.from({ length: space }, (_, g) => a * (g + 1) ** (a - 1));
}

/** `n` distinct indices, each drawn ∝ weight among those not yet taken. */
function weightedDistinct(rng: SeededRandom, weights: Float64Array, n: number): number[] {
  const taken = new Uint8Array(weights.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    let rest = 0;
    for (let i = 0; i < weights.length; i++) if (!taken[i]) rest += weights[i]!;
    let target = rng.nextFloat() * rest;
    let pick = -1;
    for (let i = 0; i < weights.length; i++) {
      if (taken[i]) continue;
      pick = i;
      target -= weights[i]!;
      if (target < 0) break;
    }
    taken[pick] = 1;
    out.push(pick);
  }
  return out;
}
