import type { Rng } from '../random.js';

/**
 * Writes `n` distinct integers from `[lo, hi)` into `out[0..n)`, uniformly among ordered
 * samples (like `np.random.choice(range, n, replace=False)`). Rejection for sparse draws,
 * partial Fisher–Yates over a scratch array for dense ones.
 */
export function sampleDistinct(rng: Rng, lo: number, hi: number, n: number, out: Int32Array): void {
  const range = hi - lo;
  if (n > range) throw new RangeError(`cannot draw ${n} distinct values from [${lo}, ${hi})`);
  if (n * 4 <= range) {
    const seen = new Set<number>();
    for (let i = 0; i < n; ) {
      const v = lo + rng.nextInt(range);
      if (seen.has(v)) continue;
      seen.add(v);
      out[i++] = v;
    }
    return;
  }
  const pool = new Int32Array(range);
  for (let i = 0; i < range; i++) pool[i] = lo + i;
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(range - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
    out[i] = pool[i]!;
  }
}

/**
 * Zoology's query-gap law: `p(i) ∝ a·i^(a−1)` for `i = 1..space`, over gap values `0..space−1`
 * (`a = 0.01` strongly favours small gaps; `a = 1` is uniform). {@link sample} draws `n` distinct
 * gaps in draw order, which has the same distribution as `np.random.choice(space, n,
 * replace=False, p=p)`: each next gap is drawn ∝ p among the gaps not yet drawn.
 */
export class PowerLawGaps {
  readonly space: number;
  readonly powerA: number;
  private readonly weight: Float64Array;
  private readonly cdf: Float64Array;

  constructor(space: number, powerA: number) {
    if (!(space >= 1) || !(powerA > 0))
      throw new RangeError(`power law needs space >= 1 and a > 0 (got ${space}, ${powerA})`);
    this.space = space;
    this.powerA = powerA;
    this.weight = new Float64Array(space);
    this.cdf = new Float64Array(space);
    let total = 0;
    for (let i = 0; i < space; i++) {
      this.weight[i] = powerA * (i + 1) ** (powerA - 1);
      total += this.weight[i]!;
    }
    let acc = 0;
    for (let i = 0; i < space; i++) {
      acc += this.weight[i]! / total;
      this.cdf[i] = acc;
    }
    this.cdf[space - 1] = 1;
  }

  /** Probability of gap `g` on a single draw. */
  probability(g: number): number {
    return this.cdf[g]! - (g > 0 ? this.cdf[g - 1]! : 0);
  }

  /** Draws `n` distinct gaps into `out[0..n)`. */
  sample(rng: Rng, n: number, out: Int32Array): void {
    if (n > this.space) throw new RangeError(`cannot draw ${n} distinct gaps from ${this.space}`);
    const taken = new Uint8Array(this.space);
    for (let k = 0; k < n; k++) {
      let g = -1;
      // Rejection on the full CDF is exact for "∝ p among the rest"; fall back to an explicit
      // scan of the remaining mass when most of it is already taken.
      for (let attempt = 0; attempt < 32 && g < 0; attempt++) {
        const c = this.search(rng.nextFloat());
        if (!taken[c]) g = c;
      }
      if (g < 0) g = this.scanRemaining(rng.nextFloat(), taken);
      taken[g] = 1;
      out[k] = g;
    }
  }

  private search(u: number): number {
    // First index with cdf > u (numpy's searchsorted side='right').
    let lo = 0;
    let hi = this.space - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private scanRemaining(u: number, taken: Uint8Array): number {
    let rest = 0;
    for (let i = 0; i < this.space; i++) if (!taken[i]) rest += this.weight[i]!;
    let target = u * rest;
    let last = -1;
    for (let i = 0; i < this.space; i++) {
      if (taken[i]) continue;
      last = i;
      target -= this.weight[i]!;
      if (target < 0) return i;
    }
    return last;
  }
}
