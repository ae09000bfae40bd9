import { record, type Tensor, TensorError, tensor } from '@dynconv/tensor';
import type { HostReadable } from './host.js';

const read = (b: HostReadable, t: Tensor): ArrayLike<number> => b.readSync(t.view());

/**
 * Throws unless `offsets` rises from 0 to R (a partition of the rows into E
 * segments), or to at most R with `tail` (the rest owned by no expert).
 */
function checkOffsets(op: string, off: ArrayLike<number>, R: number, tail: boolean): void {
  const E = off.length - 1;
  let ok = off[0] === 0 && (tail ? off[E]! <= R : off[E] === R);
  for (let e = 0; ok && e < E; e++) ok = off[e]! <= off[e + 1]!;
  if (!ok)
    throw new TensorError(
      op,
      `offsets must rise from 0 to ${tail ? 'at most ' : ''}R=${R} (expert segments of the rows), got [${Array.from(off).join(', ')}]`,
    );
}

/**
 * The grouped matmul on the host (CPU backend): `y[r] = x[r] · w[e]` for the
 * rows r of each expert's segment, with its own backward (dx, and dw summed
 * over each segment in row order). Touches only the rows each expert owns;
 * rows past `offsets[E]` (allowed with `tail`) stay zero in y and dx.
 * Arguments are validated by `groupedMatmul`.
 */
export function groupedMatmulHost(
  b: HostReadable,
  x: Tensor,
  w: Tensor,
  offsets: Tensor,
  tail: boolean,
): Tensor {
  const [R, K] = x.shape as [number, number];
  const [E, , M] = w.shape as [number, number, number];
  const off = read(b, offsets);
  checkOffsets('groupedMatmul', off, R, tail);
  const xs = read(b, x);
  const ws = read(b, w);
  const y = new Float64Array(R * M);
  for (let e = 0; e < E; e++)
    for (let r = off[e]!; r < off[e + 1]!; r++)
      for (let k = 0; k < K; k++) {
        const xv = xs[r * K + k]!;
        const wRow = (e * K + k) * M;
        for (let m = 0; m < M; m++) y[r * M + m]! += xv * ws[wRow + m]!;
      }
  const out = tensor(y, { shape: [R, M], dtype: x.dtype, backend: b });
  // The host arrays are copies: the backward closes over them instead of saving tensors.
  record('groupedMatmul', [x, w], [out], [], ([gy]) => {
    const g = read(b, gy!);
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) {
      const d = new Float64Array(R * K);
      for (let e = 0; e < E; e++)
        for (let r = off[e]!; r < off[e + 1]!; r++)
          for (let k = 0; k < K; k++) {
            const wRow = (e * K + k) * M;
            let acc = 0;
            for (let m = 0; m < M; m++) acc += g[r * M + m]! * ws[wRow + m]!;
            d[r * K + k] = acc;
          }
      dx = tensor(d, { shape: [R, K], dtype: x.dtype, backend: b });
    }
    if (w.requiresGrad) {
      const d = new Float64Array(E * K * M);
      for (let e = 0; e < E; e++)
        for (let r = off[e]!; r < off[e + 1]!; r++)
          for (let k = 0; k < K; k++) {
            const xv = xs[r * K + k]!;
            const wRow = (e * K + k) * M;
            for (let m = 0; m < M; m++) d[wRow + m]! += xv * g[r * M + m]!;
          }
      dw = tensor(d, { shape: [E, K, M], dtype: w.dtype, backend: b });
    }
    return [dx, dw];
  });
  return out;
}
