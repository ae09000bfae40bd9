import type { Rng } from '../random.js';
import { PowerLawGaps, sampleDistinct } from './sampling.js';
import type { SyntheticTask } from './task.js';

/** Parameters of {@link VariableKeyMqarTask}. */
export interface VariableKeyMqarOptions {
  /** V; must exceed `seqLen`. */
  readonly vocabSize: number;
  /** T, even. */
  readonly seqLen: number;
  /** N key-value pairs. */
  readonly numKvPairs: number;
  /** Shortest key, in tokens; default 1. */
  readonly minKeyLength?: number;
  /** Longest key, in tokens; default 3. */
  readonly maxKeyLength?: number;
  /**
   * Distinct key tokens per example (keys are strings over this small pool, so they share tokens
   * and prefixes and only the whole span identifies a value). Default: the smallest pool giving at
   * least 4N possible keys.
   */
  readonly keyTokenPool?: number;
  /** Default 0.01. */
  readonly powerA?: number;
  /** Replace fillers by random tokens that are neither pool tokens nor the delimiter; default true. */
  readonly randomNonQueries?: boolean;
}

/** Token 1 terminates every key, in the context and in queries. */
export const KEY_DELIMITER = 1;

/**
 * Variable-length-key MQAR (method dossier §5.4/§8.2, "variable-length keys (1–3 tokens,
 * delimiter-terminated)"; the exact task of the DSC paper was not published, so this is our
 * definition):
 *
 * - vocabulary: 0 filler, 1 delimiter, key tokens `[2, V/2)`, values `[V/2, V)`;
 * - per example a pool of P key tokens; N distinct keys, each of uniform length in
 *   `[minKeyLength, maxKeyLength]` with uniform pool tokens (a key may be a prefix of another);
 * - context: `key_j… ⟂ v_j` for each pair; queries: `key_j… ⟂` placed in slots of
 *   `maxKeyLength + 1` positions at slot `gap_j` (power law, as MQAR) after the context;
 * - `labels` at each query's delimiter = `v_j`, −100 elsewhere;
 * - fillers (0) become random non-pool, non-delimiter tokens when `randomNonQueries`, so the token
 *   before every key span is never a pool token and each key's extent is unambiguous.
 *
 * Needs `N·(maxKeyLength + 2) + N·(maxKeyLength + 1) <= T`.
 */
export class VariableKeyMqarTask implements SyntheticTask {
  readonly name = 'mqar-variable-keys';
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly numKvPairs: number;
  readonly minKeyLength: number;
  readonly maxKeyLength: number;
  readonly keyTokenPool: number;
  readonly powerA: number;
  readonly randomNonQueries: boolean;
  readonly fingerprint: string;
  private readonly gaps: PowerLawGaps;
  private readonly pool: Int32Array;
  private readonly values: Int32Array;
  private readonly gapDraws: Int32Array;

  constructor(options: VariableKeyMqarOptions) {
    const { vocabSize: V, seqLen: T, numKvPairs: N } = options;
    const minLen = options.minKeyLength ?? 1;
    const maxLen = options.maxKeyLength ?? 3;
    this.powerA = options.powerA ?? 0.01;
    this.randomNonQueries = options.randomNonQueries ?? true;
    if (!Number.isInteger(T) || T % 2 !== 0) throw new RangeError(`seqLen must be even, got ${T}`);
    if (!(V > T)) throw new RangeError(`vocabSize (${V}) must exceed seqLen (${T})`);
    if (!Number.isInteger(N) || N < 1)
      throw new RangeError(`numKvPairs must be a positive integer, got ${N}`);
    if (!(Number.isInteger(minLen) && minLen >= 1 && Number.isInteger(maxLen) && maxLen >= minLen)) {
      throw new RangeError(`key lengths must satisfy 1 <= min <= max (got ${minLen}, ${maxLen})`);
    }
    const keysFromPool = (p: number) => {
      let total = 0;
      for (let l = minLen; l <= maxLen; l++) total += p ** l;
      return total;
    };
    let pool = options.keyTokenPool ?? 2;
    if (options.keyTokenPool === undefined) while (keysFromPool(pool) < 4 * N) pool++;
    if (!(Number.isInteger(pool) && pool >= 1) || keysFromPool(pool) < 2 * N) {
      throw new RangeError(`a pool of ${pool} tokens gives too few distinct keys for ${N} pairs`);
    }
    const half = Math.floor(V / 2);
    if (pool > half - 2 || N > V - half)
      throw new RangeError(`vocabSize ${V} too small for pool ${pool} and ${N} values`);
    const space = Math.floor((T - N * (maxLen + 2)) / (maxLen + 1));
    if (space < N)
      throw new RangeError(`seqLen ${T} too short: need N·(${maxLen}+2) + N·(${maxLen}+1) tokens`);
    this.vocabSize = V;
    this.seqLen = T;
    this.numKvPairs = N;
    this.minKeyLength = minLen;
    this.maxKeyLength = maxLen;
    this.keyTokenPool = pool;
    this.gaps = new PowerLawGaps(space, this.powerA);
    this.pool = new Int32Array(pool);
    this.values = new Int32Array(N);
    this.gapDraws = new Int32Array(N);
    this.fingerprint = `mqar-variable-keys/v1|V=${V}|T=${T}|N=${N}|len=${minLen}-${maxLen}|P=${pool}|a=${this.powerA}|rnq=${this.randomNonQueries}`;
  }

  generate(rng: Rng, inputs: Int32Array, labels: Int32Array): void {
    const {
      vocabSize: V,
      numKvPairs: N,
      minKeyLength: minLen,
      maxKeyLength: maxLen,
      pool,
      values,
      gapDraws,
    } = this;
    const half = Math.floor(V / 2);
    sampleDistinct(rng, 2, half, pool.length, pool);
    const keys: number[][] = [];
    const seen = new Set<string>();
    while (keys.length < N) {
      const length = minLen + rng.nextInt(maxLen - minLen + 1);
      const key = Array.from({ length }, () => pool[rng.nextInt(pool.length)]!);
      const id = key.join(',');
      if (seen.has(id)) continue;
      seen.add(id);
      keys.push(key);
    }
    sampleDistinct(rng, half, V, N, values);
    this.gaps.sample(rng, N, gapDraws);
    inputs.fill(0);
    labels.fill(-100);
    let t = 0;
    for (let j = 0; j < N; j++) {
      for (const k of keys[j]!) inputs[t++] = k;
      inputs[t++] = KEY_DELIMITER;
      inputs[t++] = values[j]!;
    }
    const queryStart = t;
    for (let j = 0; j < N; j++) {
      let at = queryStart + gapDraws[j]! * (maxLen + 1);
      for (const k of keys[j]!) inputs[at++] = k;
      inputs[at] = KEY_DELIMITER;
      labels[at] = values[j]!;
    }
    if (this.randomNonQueries) {
      const inPool = new Set(pool);
      for (let i = 0; i < inputs.length; i++) {
        if (inputs[i] !== 0) continue;
        let v: number;
        do v = rng.nextInt(V);
        while (v === KEY_DELIMITER || inPool.has(v));
        inputs[i] = v;
      }
    }
  }
}
