import { type Tensor, tidy } from '@dynconv/tensor';
import { runtimeOf } from '../common/gpu.js';
import { deltaChunkScanFused } from './chunk-scan.fused.js';
import { deltaChunkScanRef } from './chunk-scan.ref.js';

/** Per-chunk operands of the gated-delta chunk scan (all `[B, H, nC, ...]`, one dtype and backend). */
export interface DeltaChunkScanInputs {
  /** `[B, H, nC, Q, V]` `T(β⊙v)` */
  U: Tensor;
  /** `[B, H, nC, Q, K]` `T(β⊙k⊙e^γ)` */
  W: Tensor;
  /** `[B, H, nC, Q, K]` `q·scale ⊙ e^γ` */
  qDecayed: Tensor;
  /** `[B, H, nC, Q, Q]` `(q kᵀ) ⊙ L`, lower-triangular with the diagonal */
  intra: Tensor;
  /** `[B, H, nC, Q, K]` `k ⊙ e^{γ_last − γ}` */
  kToEnd: Tensor;
  /** `[B, H, nC]` `e^{γ_last}` */
  chunkDecay: Tensor;
  /** `[B, H, K, V]` state before the first chunk */
  initial: Tensor;
}

export interface DeltaChunkScanResult {
  /** `[B, H, nC, Q, V]` */
  o: Tensor;
  /** `[B, H, K, V]` */
  finalState: Tensor;
}

/** Largest key head size and chunk the fused kernels keep in private memory. */
export const FUSED_MAX_K = 256;
export const FUSED_MAX_Q = 128;

/**
 * The sequential chunk scan of the gated delta rule, differentiable: fused
 * WGSL kernels on WebGPU (f32, K ≤ 256, Q ≤ 128), the composed reference
 * elsewhere. Inputs come from `gatedDeltaRule`, which validates them.
 */
export function deltaChunkScan(x: DeltaChunkScanInputs): DeltaChunkScanResult {
  const rt = runtimeOf(x.U.backend);
  const K = x.W.shape[4]!;
  const Q = x.U.shape[3]!;
  if (rt && x.U.dtype === 'f32' && K <= FUSED_MAX_K && Q <= FUSED_MAX_Q)
    return tidy(() => deltaChunkScanFused(rt, x));
  return deltaChunkScanRef(x);
}
