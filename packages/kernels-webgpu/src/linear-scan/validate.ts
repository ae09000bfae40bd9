import { fmtShape, type Tensor, TensorError } from '@dynconv/tensor';

/** Largest chunk the chunked algorithms accept (their intra-chunk matrices are Q×Q). */
export const MAX_CHUNK_SIZE = 256;

/** Throws unless `Q` is a power of two in 1..{@link MAX_CHUNK_SIZE}. */
export function checkChunkSize(op: string, Q: number): void {
  if (!Number.isInteger(Q) || Q < 1 || Q > MAX_CHUNK_SIZE || (Q & (Q - 1)) !== 0)
    throw new TensorError(op, `chunkSize must be a power of two in 1..${MAX_CHUNK_SIZE}, got ${Q}`);
}

/** Throws unless all tensors are alive, on one backend, and float tensors of one dtype. */
export function checkSameFloat(op: string, named: Readonly<Record<string, Tensor | undefined>>): void {
  const entries = Object.entries(named).filter((e): e is [string, Tensor] => e[1] !== undefined);
  const [firstName, first] = entries[0]!;
  if (first.dtype !== 'f32' && first.dtype !== 'f16')
    throw new TensorError(op, `${firstName} must be f32 or f16, got ${first.dtype}${fmtShape(first.shape)}`);
  for (const [name, t] of entries) {
    t.assertAlive(op);
    if (t.backend !== first.backend)
      throw new TensorError(op, `${name} is on ${t.backend.name}, ${firstName} on ${first.backend.name}`);
    if (t.dtype !== first.dtype)
      throw new TensorError(
        op,
        `${name} must be ${first.dtype} like ${firstName}, got ${t.dtype}${fmtShape(t.shape)}`,
      );
  }
}

/**
 * Throws unless `t` has exactly `expected` as its shape; `null` entries match
 * any size and are returned (in order) so callers can read free dimensions.
 */
export function checkShape(
  op: string,
  name: string,
  t: Tensor,
  expected: readonly (number | null)[],
  names: string,
): number[] {
  const ok = t.rank === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    const want = expected.map((d, i) => (d === null ? names.split(',')[i]!.trim() : String(d))).join(', ');
    throw new TensorError(op, `${name} must be [${names}] = [${want}], got ${fmtShape(t.shape)}`);
  }
  return expected.flatMap((d, i) => (d === null ? [t.shape[i]!] : []));
}

/** Throws unless `groups` divides `heads` (B/C groups shared by heads, as in Mamba-2's `ngroups`). */
export function checkGroups(
  op: string,
  name: string,
  groups: number,
  heads: number,
  shape: readonly number[],
): void {
  if (groups < 1 || heads % groups !== 0)
    throw new TensorError(
      op,
      `${name}: G=${groups} groups must divide H=${heads} heads, got ${fmtShape(shape)}`,
    );
}

/** docStart: i32 `[B, T]` matching the sequence `x`. */
export function checkDocStart(op: string, docStart: Tensor, like: Tensor, batch: number, T: number): void {
  docStart.assertAlive(op);
  if (docStart.backend !== like.backend)
    throw new TensorError(op, `docStart is on ${docStart.backend.name}, the inputs on ${like.backend.name}`);
  if (
    docStart.dtype !== 'i32' ||
    docStart.rank !== 2 ||
    docStart.shape[0] !== batch ||
    docStart.shape[1] !== T
  )
    throw new TensorError(
      op,
      `docStart must be i32 [B, T] = [${batch}, ${T}], got ${docStart.dtype}${fmtShape(docStart.shape)}`,
    );
}
