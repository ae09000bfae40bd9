/**
 * Small seeded PRNG for everything random in this package (never `Math.random`):
 * xoshiro128** (32-bit state words, fast in JS), seeded through a murmur3-style mixer from any
 * number of integer keys, so streams like (seed, split, example index) are independent and
 * addressable without generating what comes before them.
 */

/** murmur3 fmix32: a bijective 32-bit avalanche mix. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hashes integer keys (any sign, up to 2^53) into 32 bits; order matters. */
export function hashKeys(...keys: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const k of keys) {
    const lo = k >>> 0;
    const hi = Math.floor(k / 4294967296) >>> 0;
    h = mix32(h ^ mix32(lo + 0x7f4a7c15));
    h = mix32(h ^ mix32(hi + 0x1b873593));
  }
  return h;
}

/** A hash of keys as a float in [0, 1). */
export const hashUnit = (...keys: readonly number[]): number => hashKeys(...keys) / 4294967296;

/** xoshiro128** generator. Construct from integer keys; equal keys give equal streams. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...keys: readonly number[]) {
    const h = hashKeys(...keys);
    // Four distinct derived words; xoshiro must not start from all-zero state (mix32 of distinct inputs never are all 0).
    this.a = mix32(h ^ 0x243f6a88);
    this.b = mix32(h ^ 0x85a308d3);
    this.c = mix32(h ^ 0x13198a2e);
    this.d = mix32(h ^ 0x03707344);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n in [1, 2^32]. */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`nextInt bound ${n} outside [1, 2^32]`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** A uniformly random permutation of 0..n-1 (Fisher–Yates) drawn from `rng`. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
