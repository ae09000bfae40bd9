import { type BpeMerge, ByteLevelBpeTokenizer, MAX_BPE_VOCAB } from './byte-level-bpe.js';
import { splitPieces } from './byte-level-pretokenize.js';

/** Options of {@link trainByteLevelBpe}. */
export interface TrainByteLevelBpeOptions {
  /** Target vocabulary size including the 256 byte ids, in [256, 2^20]. */
  readonly vocabSize: number;
  /** Stop early when the most frequent pair occurs fewer times than this; default 2. */
  readonly minFrequency?: number;
  /** Tokenizer identity for manifests; default `byte-level-bpe-<vocabSize>`. */
  readonly id?: string;
}

/** Pair key: `left * 2^20 + right` (see byte-level-bpe.ts). */
const PAIR_BASE = 1 << 20;

/**
 * Trains a GPT-2-style byte-level BPE on documents: split with the GPT-2 regex, count piece
 * frequencies, then repeatedly merge the most frequent adjacent pair (ties: smallest
 * `(left, right)` ids, so training is deterministic) until `vocabSize` ids exist or no pair
 * reaches `minFrequency`. The result may be smaller than `vocabSize` on a tiny corpus.
 *
 * Cost: pair counts are updated incrementally, touching only the pieces that contain the
 * merged pair, so each merge costs about the number of its occurrences.
 */
export async function trainByteLevelBpe(
  documents: Iterable<string> | AsyncIterable<string>,
  options: TrainByteLevelBpeOptions,
): Promise<ByteLevelBpeTokenizer> {
  const { vocabSize } = options;
  const minFrequency = Math.max(1, options.minFrequency ?? 2);
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_BPE_VOCAB) {
    throw new RangeError(`vocabSize must be an integer in [256, ${MAX_BPE_VOCAB}], got ${vocabSize}`);
  }

  const pieceCounts = new Map<string, number>();
  for await (const doc of documents) {
    for (const piece of splitPieces(doc)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
  }
  const encoder = new TextEncoder();
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, count] of pieceCounts) {
    const bytes = encoder.encode(piece);
    if (bytes.length < 2) continue; // single bytes never take part in a merge
    words.push(Array.from(bytes));
    freq.push(count);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>(); // may hold stale or repeated word indices
  const addPairs = (w: number, sign: 1 | -1, changed: Set<number>) => {
    const word = words[w]!;
    const f = freq[w]! * sign;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i]! * PAIR_BASE + word[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      changed.add(key);
      if (sign > 0) {
        let list = pairWords.get(key);
        if (list === undefined) {
          list = [];
          pairWords.set(key, list);
        }
        if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  const initial = new Set<number>();
  for (let w = 0; w < words.length; w++) addPairs(w, 1, initial);
  const heap = new PairHeap();
  for (const key of initial) heap.push(pairCount.get(key)!, key);

  const tokenBytes: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  const idOfBytes = new Map<string, number>(
    tokenBytes.map((t, id) => [Buffer.from(t).toString('latin1'), id]),
  );
  const merges: BpeMerge[] = [];
  const stamp = new Int32Array(words.length).fill(-1);

  while (tokenBytes.length < vocabSize) {
    // Lazy deletion: heap entries whose count is stale are skipped.
    let key = -1;
    let count = 0;
    while (heap.size > 0) {
      const top = heap.pop();
      const current = pairCount.get(top.key) ?? 0;
      if (current === top.count && current > 0) {
        key = top.key;
        count = current;
        break;
      }
    }
    if (key < 0 || count < minFrequency) break;
    const left = Math.floor(key / PAIR_BASE);
    const right = key % PAIR_BASE;
    const bytes = new Uint8Array(tokenBytes[left]!.length + tokenBytes[right]!.length);
    bytes.set(tokenBytes[left]!);
    bytes.set(tokenBytes[right]!, tokenBytes[left]!.length);
    const name = Buffer.from(bytes).toString('latin1');
    // Two merges can spell the same bytes ("ab"+"c", "a"+"bc"): they share one id, as in HF.
    let merged = idOfBytes.get(name);
    if (merged === undefined) {
      merged = tokenBytes.length;
      tokenBytes.push(bytes);
      idOfBytes.set(name, merged);
    }
    const rank = merges.length;
    merges.push({ left, right, merged });

    const changed = new Set<number>();
    for (const w of pairWords.get(key) ?? []) {
      if (stamp[w] === rank) continue;
      stamp[w] = rank;
      const word = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < word.length; i++) if (word[i] === left && word[i + 1] === right) has = true;
      if (!has) continue;
      addPairs(w, -1, changed);
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(word[i]!);
      }
      words[w] = next;
      addPairs(w, 1, changed);
    }
    pairWords.delete(key);
    for (const k of changed) {
      const c = pairCount.get(k)!;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
  }
  return new ByteLevelBpeTokenizer(tokenBytes, merges, options.id !== undefined ? { id: options.id } : {});
}

/** Max-heap of (count, key); ties pop the smallest key first. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.counts.length && this.above(l, best)) best = l;
        if (r < this.counts.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}
