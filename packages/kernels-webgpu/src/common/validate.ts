import { fmtShape, type Tensor, TensorError } from '@dynconv/tensor';

/** Largest conv width the fused kernels unroll for. */
export const MAX_WIDTH = 8;
/** Largest low-rank generator rank the fused kernels hold on chip. */
export const MAX_RANK = 64;

/** Throws unless every tensor is alive and on `ts[0]`'s backend. */
export function assertSameBackend(op: string, named: Readonly<Record<string, Tensor | undefined>>): void {
  const entries = Object.entries(named).filter((e): e is [string, Tensor] => e[1] !== undefined);
  const first = entries[0]![1];
  for (const [name, t] of entries) {
    t.assertAlive(op);
    if (t.backend !== first.backend)
      throw new TensorError(
        op,
        `${name} is on ${t.backend.name}, ${entries[0]![0]} on ${first.backend.name}`,
      );
  }
}

/** Float inputs must share x's dtype: the kernels read them with one element type. */
export function assertFloatLike(
  op: string,
  x: Tensor,
  named: Readonly<Record<string, Tensor | undefined>>,
): void {
  if (x.dtype !== 'f32' && x.dtype !== 'f16')
    throw new TensorError(op, `x must be f32 or f16, got ${x.dtype}${fmtShape(x.shape)}`);
  for (const [name, t] of Object.entries(named))
    if (t && t.dtype !== x.dtype)
      throw new TensorError(op, `${name} must be ${x.dtype} like x, got ${t.dtype}${fmtShape(t.shape)}`);
}

/** x `[B, T, D]`. */
export function checkSequence(op: string, x: Tensor): { B: number; T: number; D: number } {
  if (x.rank !== 3) throw new TensorError(op, `x must be [B, T, D], got ${fmtShape(x.shape)}`);
  const [B, T, D] = x.shape as [number, number, number];
  if (D === 0) throw new TensorError(op, `x must have D >= 1, got ${fmtShape(x.shape)}`);
  return { B, T, D };
}

const checkWidth = (op: string, what: string, W: number, shape: readonly number[]): void => {
  if (!Number.isInteger(W) || W < 1 || W > MAX_WIDTH)
    throw new TensorError(
      op,
      `${what}: width W must be in 1..${MAX_WIDTH}, got W=${W} from ${fmtShape(shape)}`,
    );
};

/** A static filter `[W, D]` with W in 1..8 (and W = `expectedW` when given); returns W. */
export function checkStaticWeight(
  op: string,
  name: string,
  w: Tensor,
  x: Tensor,
  D: number,
  expectedW?: number,
): number {
  const want = expectedW === undefined ? 'W' : `${expectedW}`;
  if (w.rank !== 2 || w.shape[1] !== D || (expectedW !== undefined && w.shape[0] !== expectedW))
    throw new TensorError(
      op,
      `${name} must be [${want}, D] with D=${D} (x ${fmtShape(x.shape)}), got ${fmtShape(w.shape)}`,
    );
  const W = w.shape[0]!;
  checkWidth(op, name, W, w.shape);
  return W;
}

/** A per-channel vector `[D]`. */
export function checkChannelVector(op: string, name: string, v: Tensor, x: Tensor, D: number): void {
  if (v.rank !== 1 || v.shape[0] !== D)
    throw new TensorError(
      op,
      `${name} must be [D] with D=${D} (x ${fmtShape(x.shape)}), got ${fmtShape(v.shape)}`,
    );
}

/** docStart: i32 `[B, T]`. */
export function checkDocStart(op: string, docStart: Tensor, x: Tensor, B: number, T: number): void {
  if (docStart.dtype !== 'i32')
    throw new TensorError(op, `docStart must be i32, got ${docStart.dtype}${fmtShape(docStart.shape)}`);
  if (docStart.rank !== 2 || docStart.shape[0] !== B || docStart.shape[1] !== T)
    throw new TensorError(
      op,
      `docStart must be [B, T] = [${B}, ${T}] (x ${fmtShape(x.shape)}), got ${fmtShape(docStart.shape)}`,
    );
}

/** Head-wise taps `[B, T, H, W]` with H dividing D; returns H, W and the head size D/H. */
export function checkTaps(
  op: string,
  taps: Tensor,
  x: Tensor,
  B: number,
  T: number,
  D: number,
): { H: number; W: number; headSize: number } {
  if (taps.rank !== 4 || taps.shape[0] !== B || taps.shape[1] !== T)
    throw new TensorError(
      op,
      `taps must be [B, T, H, W] = [${B}, ${T}, H, W] (x ${fmtShape(x.shape)}), got ${fmtShape(taps.shape)}`,
    );
  const H = taps.shape[2]!;
  const W = taps.shape[3]!;
  if (H < 1 || D % H !== 0)
    throw new TensorError(
      op,
      `taps: H=${H} heads must divide D=${D} (x ${fmtShape(x.shape)}, taps ${fmtShape(taps.shape)})`,
    );
  checkWidth(op, 'taps', W, taps.shape);
  return { H, W, headSize: D / H };
}

/** Low-rank generator z `[B, T, R]` (R in 1..64) and basis u `[R, W*D]` (W in 1..8); returns R and W. */
export function checkLowRank(
  op: string,
  z: Tensor,
  u: Tensor,
  x: Tensor,
  B: number,
  T: number,
  D: number,
): { R: number; W: number } {
  if (z.rank !== 3 || z.shape[0] !== B || z.shape[1] !== T)
    throw new TensorError(
      op,
      `z must be [B, T, R] = [${B}, ${T}, R] (x ${fmtShape(x.shape)}), got ${fmtShape(z.shape)}`,
    );
  const R = z.shape[2]!;
  if (R < 1 || R > MAX_RANK)
    throw new TensorError(op, `z: rank R must be in 1..${MAX_RANK}, got R=${R} from ${fmtShape(z.shape)}`);
  if (u.rank !== 2 || u.shape[0] !== R || u.shape[1]! % D !== 0)
    throw new TensorError(
      op,
      `u must be [R, W*D] with R=${R}, D=${D} (z ${fmtShape(z.shape)}, x ${fmtShape(x.shape)}), got ${fmtShape(u.shape)}`,
    );
  const W = u.shape[1]! / D;
  checkWidth(op, 'u', W, u.shape);
  return { R, W };
}

/** A decode cache `[B, W-1, D]`. */
export function checkCache(op: string, cache: Tensor, B: number, W: number, D: number, x: Tensor): void {
  if (cache.rank !== 3 || cache.shape[0] !== B || cache.shape[1] !== W - 1 || cache.shape[2] !== D)
    throw new TensorError(
      op,
      `cache must be [B, W-1, D] = [${B}, ${W - 1}, ${D}] (x ${fmtShape(x.shape)}, W=${W}), got ${fmtShape(cache.shape)}`,
    );
  if (cache.dtype !== x.dtype)
    throw new TensorError(op, `cache must be ${x.dtype} like x, got ${cache.dtype}`);
}
