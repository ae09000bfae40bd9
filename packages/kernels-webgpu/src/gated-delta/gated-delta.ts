import {
  add,
  cumsum,
  exp,
  fmtShape,
  matmul,
  mul,
  narrow,
  reshape,
  sub,
  type Tensor,
  TensorError,
  tidy,
  transpose,
  zeros,
} from '@dynconv/tensor';
import { decayMatrix, fromChunks, toChunks } from '../linear-scan/chunks.js';
import { documentResets } from '../linear-scan/reset.js';
import { checkChunkSize, checkDocStart, checkSameFloat, checkShape } from '../linear-scan/validate.js';
import { deltaChunkScan } from './chunk-scan.js';
import { utTransform } from './ut-transform.js';

const OP = 'gatedDeltaRule';

/** Adds the document-reset log-decays to `g [B, T, H]` (or returns g). */
export const withResets = (g: Tensor, docStart: Tensor | undefined): Tensor =>
  docStart ? add(g, reshape(documentResets(docStart, g.dtype), [...docStart.shape, 1])) : g;

export interface GatedDeltaOptions {
  /** Query scale (default 1/√K). */
  scale?: number;
  /** `[B, H, K, V]` state before the first token (default zeros). */
  initialState?: Tensor;
  /** Tokens per chunk, a power of two in 1..256 (default 64). */
  chunkSize?: number;
  /**
   * i32 `[B, T]`: where each token's document starts (packed sequences). A
   * token with `docStart == t > 0` starts from a zero state.
   */
  docStart?: Tensor;
}

export interface GatedDeltaResult {
  /** `[B, T, H, V]` */
  o: Tensor;
  /** `[B, H, K, V]` state after the last token (continues with `gatedDeltaStep`). */
  finalState: Tensor;
}

/** Validates the arguments of the gated-delta ops; returns the sizes. */
export function checkGatedDeltaArgs(
  op: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  options: GatedDeltaOptions,
) {
  checkSameFloat(op, { q, k, v, g, beta, initialState: options.initialState });
  const [batch, T, H, K] = checkShape(op, 'q', q, [null, null, null, null], 'B, T, H, K') as [
    number,
    number,
    number,
    number,
  ];
  if (T < 1) throw new TensorError(op, `q must have T >= 1 tokens, got ${fmtShape(q.shape)}`);
  checkShape(op, 'k', k, [batch, T, H, K], 'B, T, H, K');
  const [V] = checkShape(op, 'v', v, [batch, T, H, null], 'B, T, H, V') as [number];
  checkShape(op, 'g', g, [batch, T, H], 'B, T, H');
  checkShape(op, 'beta', beta, [batch, T, H], 'B, T, H');
  if (options.initialState)
    checkShape(op, 'initialState', options.initialState, [batch, H, K, V], 'B, H, K, V');
  if (options.chunkSize !== undefined) checkChunkSize(op, options.chunkSize);
  if (options.docStart) checkDocStart(op, options.docStart, q, batch, T);
  return { batch, T, H, K, V };
}

/**
 * Gated delta rule (Gated DeltaNet), chunked, differentiable on every backend
 * (composed from tensor ops). Per head, with state `S ∈ R^{K×V}`:
 * `S_t = e^{g_t} S_{t−1} + k_t u_tᵀ`, `u_t = β_t (v_t − (e^{g_t} S_{t−1})ᵀ k_t)`,
 * `o_t = S_tᵀ q_t · scale`.
 *
 * Chunked like fla's `chunk_gated_delta_rule_ref`: per chunk, with γ the
 * in-chunk cumulative log-decay, the UT transform `T` ({@link utTransform})
 * gives `U = T(β⊙v)` and `W = T(β⊙k⊙e^γ)` for all chunks at once; then a
 * sequential scan over chunks (`deltaChunkScan`, fused on WebGPU):
 * `u = U − W S`, `o = (q⊙e^γ) S + (q kᵀ ⊙ L) u`, `S ← e^{γ_last} S + (k ⊙ e^{γ_last − γ})ᵀ u`.
 *
 * @param q `[B, T, H, K]` queries (normalise before, e.g. L2)
 * @param k `[B, T, H, K]` keys (normalise before)
 * @param v `[B, T, H, V]`
 * @param g `[B, T, H]` log-decay (≤ 0)
 * @param beta `[B, T, H]` write strength in (0, 1)
 */
export function gatedDeltaRule(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  options: GatedDeltaOptions = {},
): GatedDeltaResult {
  const { batch, T, H, K, V } = checkGatedDeltaArgs(OP, q, k, v, g, beta, options);
  const Q = options.chunkSize ?? 64;
  const scale = options.scale ?? 1 / Math.sqrt(K);
  return tidy(() => {
    const qc = toChunks(mul(q, scale), Q); // [B, H, nC, Q, K]
    const kc = toChunks(k, Q);
    const vc = toChunks(v, Q); // [B, H, nC, Q, V]
    const gc = toChunks(withResets(g, options.docStart), Q); // [B, H, nC, Q]
    const betaCol = reshape(toChunks(beta, Q), [...gc.shape, 1]);
    const nC = qc.shape[2]!;
    const col = (t: Tensor) => reshape(t, [...t.shape, 1]);

    const gamma = cumsum(gc, -1);
    const kBeta = mul(kc, betaCol);
    const ut = utTransform(kBeta, kc, gamma); // [B, H, nC, Q, Q]
    const U = matmul(ut, mul(vc, betaCol));
    const W = matmul(ut, mul(kBeta, col(exp(gamma))));

    const intra = mul(matmul(qc, transpose(kc)), decayMatrix(gc)); // (q kᵀ ⊙ L), L incl. diagonal
    const qDecayed = mul(qc, col(exp(gamma)));
    const last = narrow(gamma, 3, Q - 1, 1); // [B, H, nC, 1]
    const kToEnd = mul(kc, col(exp(sub(last, gamma))));
    const chunkDecay = reshape(exp(last), [batch, H, nC]);

    const initial = options.initialState ?? zeros([batch, H, K, V], { dtype: q.dtype, backend: q.backend });
    const { o, finalState } = deltaChunkScan({ U, W, qDecayed, intra, kToEnd, chunkDecay, initial });
    return { o: fromChunks(o, T), finalState };
  });
}
