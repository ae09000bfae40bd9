/**
 * Philox-4x32-10 (Salmon et al., 2011), the counter-based generator every
 * backend uses, so a seed gives the same bits on the CPU and the GPU. This file
 * is the reference; `webgpu/kernels/random.wgsl.ts` is its WGSL twin.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (JS numbers lose precision above 2^53). */
export const mulHi = (a: number, b: number): number => {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo + (lolo >>> 16);
  const mid2 = aLo * bHi + (mid1 & 0xffff);
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16)) >>> 0;
};

/** The four u32 words for `counter` (a non-negative integer < 2^53) under `key`. */
export function philox4x32(counter: number, key: readonly [number, number], out: Uint32Array): void {
  let c0 = counter >>> 0;
  let c1 = Math.floor(counter / 4294967296) >>> 0;
  let c2 = 0;
  let c3 = 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Uniform in [0, 1) from 24 high bits: exact in f32 on every backend. */
export const bitsToUniform = (bits: number): number => (bits >>> 8) * 2 ** -24;

/** Uniform in (0, 1] for the logarithm of Box-Muller. */
export const bitsToUniformOpen = (bits: number): number => ((bits >>> 8) + 1) * 2 ** -24;

/** Splits a seed (any integer up to 2^53) into the two key words. */
export const seedKey = (seed: number): [number, number] => [seed >>> 0, Math.floor(seed / 4294967296) >>> 0];
