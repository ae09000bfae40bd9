/**
 * A tiny seeded PRNG (SplitMix32 state walk + a murmur3 finaliser) so that the
 * page and the Node reference draw exactly the same MQAR batches. Never
 * `Math.random`: the browser/Node agreement test depends on it.
 */
export class SeededRandom {
  private state: number;

  /** Equal key lists give equal streams; e.g. `(seed, step)` addresses one batch. */
  constructor(...keys: readonly number[]) {
    let h = 0x9e3779b9;
    for (const k of keys) h = mix32(h ^ mix32((k >>> 0) + 0x7f4a7c15));
    this.state = h;
  }

  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection); 1 <= n <= 2^32. */
  nextInt(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }
}

/** murmur3 fmix32. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
