/**
 * Forward FLOPs per token of the chunked scans, per head, counting the
 * matmuls the composed kernels run (2 per multiply-add, full Q×Q chunk
 * matrices — not halved for causality, like attention in `blocks/counts.ts`);
 * elementwise decays, exp and masks are not counted. Q = chunk size,
 * nC = ⌈T/Q⌉ chunks (the sequence is padded to whole chunks).
 */

const chunks = (seqLen: number, Q: number) => Math.max(1, Math.ceil(seqLen / Q));

/**
 * Mamba-2 SSD, state P×N: intra-chunk `C·Bᵀ` (2QN) and `(…)·x` (2QP), chunk
 * states (2PN), their output contribution (2PN), and the inter-chunk
 * decay-matrix product `2·(nC+1)²·P·N` spread over the T tokens.
 */
export function ssdFlopsPerToken(P: number, N: number, Q: number, seqLen: number): number {
  const nC = chunks(seqLen, Q);
  return 2 * Q * (N + P) + 4 * P * N + (2 * (nC + 1) ** 2 * P * N) / seqLen;
}

/**
 * Gated delta rule, state K×V: the UT transform (block inversion, per chunk
 * Σ_b (Q/2b)·(2b²K + 4b³)), `U = T·(βv)` (2QV), `W = T·(βk e^γ)` (2QK), the
 * intra-chunk `q·kᵀ` (2QK) and its product with u (2QV), and per token in the
 * chunk scan `W·S`, `q·S`, `kᵀ·u` (2KV each).
 */
export function gatedDeltaFlopsPerToken(K: number, V: number, Q: number): number {
  let ut = 0;
  for (let b = 1; b < Q; b *= 2) ut += (Q / (2 * b)) * (2 * b * b * K + 4 * b * b * b);
  return ut / Q + 4 * Q * (K + V) + 6 * K * V;
}

/**
 * GLA, state K×V: intra-chunk decayed scores (2QK) and their product with v
 * (2QV), chunk states (2KV), their output contribution (2KV), and the
 * per-channel inter-chunk decay-matrix product `2·(nC+1)²·K·V` over T tokens.
 */
export function glaFlopsPerToken(K: number, V: number, Q: number, seqLen: number): number {
  const nC = chunks(seqLen, Q);
  return 2 * Q * (K + V) + 4 * K * V + (2 * (nC + 1) ** 2 * K * V) / seqLen;
}
