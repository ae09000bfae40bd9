/** Element types a tensor can hold. `f16` needs `shader-f16` on WebGPU. */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';

/** Typed arrays a tensor's data is read into and created from. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array;

export const isFloat = (dtype: DType): boolean => dtype === 'f32' || dtype === 'f16';

/** Bytes per element as stored on the GPU. */
export const byteSize = (dtype: DType): number => (dtype === 'f16' ? 2 : 4);

/** The typed array a host-side copy of `dtype` data uses (f16 reads back widened to f32). */
export const hostArray = (dtype: DType, n: number): Float32Array | Int32Array | Uint32Array =>
  dtype === 'i32' ? new Int32Array(n) : dtype === 'u32' ? new Uint32Array(n) : new Float32Array(n);

/** Rounds to the nearest f16 value (round-half-even), returned as a JS number. */
export const roundF16: (x: number) => number =
  (Math as unknown as { f16round?: (x: number) => number }).f16round ??
  ((x: number) => {
    const bits = f32ToF16Bits(x);
    return f16BitsToF32(bits);
  });

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of `x` (round-half-even), used to upload f16 data. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** The f32 value of IEEE binary16 `bits`. */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
