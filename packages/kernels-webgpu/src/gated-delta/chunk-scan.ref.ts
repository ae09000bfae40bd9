import { add, matmul, mul, reshape, stack, sub, type Tensor, tidy, transpose } from '@dynconv/tensor';
import { pick } from '../linear-scan/chunks.js';
import type { DeltaChunkScanInputs, DeltaChunkScanResult } from './chunk-scan.js';

/**
 * The sequential part of the chunked gated delta rule, composed from tensor
 * ops (the plain reference, any backend): for each chunk c in order, with the
 * state S entering it,
 * `u = U_c − W_c S`, `o_c = Qd_c S + P_c u`, `S ← g_c S + Kd_cᵀ u`.
 * Shapes are validated by the caller (`deltaChunkScan`).
 */
export function deltaChunkScanRef(x: DeltaChunkScanInputs): DeltaChunkScanResult {
  return tidy(() => {
    const [B, H, nC] = x.U.shape as [number, number, number];
    let state = x.initial;
    const outs: Tensor[] = [];
    for (let c = 0; c < nC; c++) {
      const u = sub(pick(x.U, 2, c), matmul(pick(x.W, 2, c), state)); // [B, H, Q, V]
      outs.push(add(matmul(pick(x.qDecayed, 2, c), state), matmul(pick(x.intra, 2, c), u)));
      const decay = reshape(pick(x.chunkDecay, 2, c), [B, H, 1, 1]);
      state = add(mul(state, decay), matmul(transpose(pick(x.kToEnd, 2, c)), u));
    }
    // nC >= 1, so the state is always fresh, never the caller's initial state.
    return { o: stack(outs, 2), finalState: state };
  });
}
