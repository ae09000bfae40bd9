import { philox4x32, seedKey, type Tensor } from '@dynconv/tensor';

/**
 * Token sampling on the host: temperature, top-k and top-p (nucleus), driven
 * by a seeded counter-based stream so that a seed reproduces a generation.
 */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax). Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  readonly topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  readonly topP?: number;
}

/** A reproducible stream of uniforms in [0, 1) (Philox-4x32, 32 bits of precision each). */
export class SamplingRng {
  private counter = 0;
  private readonly key: [number, number];
  private readonly words = new Uint32Array(4);
  private used = 4;

  constructor(readonly seed: number) {
    this.key = seedKey(seed);
  }

  next(): number {
    if (this.used === 4) {
      philox4x32(this.counter++, this.key, this.words);
      this.used = 0;
    }
    return this.words[this.used++]! / 4294967296;
  }
}

/**
 * The filtered, renormalised distribution over one row of logits:
 * `[token ids, probabilities]`, most likely first.
 */
export function samplingDistribution(
  logits: ArrayLike<number>,
  o: SamplingOptions = {},
): { ids: number[]; probs: number[] } {
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0)) throw new Error('samplingDistribution: temperature must be > 0 (use greedy for 0)');
  const ids = Array.from({ length: logits.length }, (_, i) => i).sort(
    (a, b) => logits[b]! - logits[a]! || a - b,
  );
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, ids.length) : ids.length;
  const kept = ids.slice(0, k);
  const top = logits[kept[0]!]!;
  let probs = kept.map((i) => Math.exp((logits[i]! - top) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);
  probs = probs.map((p) => p / total);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    let n = 0;
    while (n < probs.length && cumulative < topP) cumulative += probs[n++]!;
    kept.length = n;
    probs = probs.slice(0, n);
    total = probs.reduce((s, p) => s + p, 0);
    probs = probs.map((p) => p / total);
  }
  return { ids: kept, probs };
}

/** One token from one row of logits, using the uniform `u ∈ [0, 1)`. */
export function sampleRow(logits: ArrayLike<number>, o: SamplingOptions, u: number): number {
  if ((o.temperature ?? 1) === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  if (!(o.topK && o.topK > 0) && (o.topP ?? 1) >= 1) {
    // No filtering: draw from the tempered softmax in one pass, without sorting the vocabulary.
    const t = o.temperature ?? 1;
    let top = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < logits.length; i++) top = Math.max(top, logits[i]!);
    let total = 0;
    for (let i = 0; i < logits.length; i++) total += Math.exp((logits[i]! - top) / t);
    const target = u * total;
    let acc = 0;
    for (let i = 0; i < logits.length; i++) {
      acc += Math.exp((logits[i]! - top) / t);
      if (target < acc) return i;
    }
    return logits.length - 1;
  }
  const { ids, probs } = samplingDistribution(logits, o);
  let acc = 0;
  for (let i = 0; i < ids.length; i++) {
    acc += probs[i]!;
    if (u < acc) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}

/**
 * Samples the next token of every sequence from `logits [B, V]` or
 * `[B, n, V]` (the last position is used). Returns `[B]` token ids.
 */
export async function sampleNext(logits: Tensor, o: SamplingOptions, rng: SamplingRng): Promise<Int32Array> {
  const v = logits.shape[logits.rank - 1]!;
  const b = logits.shape[0]!;
  const rowsPerSeq = logits.rank === 3 ? logits.shape[1]! : 1;
  const data = await logits.data();
  const out = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const start = (i * rowsPerSeq + rowsPerSeq - 1) * v;
    out[i] = sampleRow(data.subarray(start, start + v), o, rng.next());
  }
  return out;
}
