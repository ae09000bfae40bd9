import type { BackendBuffer, View } from '../backend.js';
import { cpuData, finishF16 } from './buffer.js';

/** Batched matmul over strided `[batch, m, k] @ [batch, k, n]` (i-k-j loop order for cache locality). */
export function matmul(a: View, b: View, out: BackendBuffer): void {
  const [batch, m, k] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const dst = cpuData(out);
  const acc = new Float64Array(n);
  for (let p = 0; p < batch; p++) {
    const ao = a.offset + p * sab;
    const bo = b.offset + p * sbb;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let kk = 0; kk < k; kk++) {
        const av = da[ao + i * sam + kk * sak]!;
        const rowB = bo + kk * sbk;
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + av * db[rowB + j * sbn]!;
      }
      const oo = (p * m + i) * n;
      for (let j = 0; j < n; j++) dst[oo + j] = acc[j]!;
    }
  }
  finishF16(out, batch * m * n);
}
