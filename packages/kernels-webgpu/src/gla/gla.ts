import {
  add,
  concat,
  cumsum,
  exp,
  fmtShape,
  matmul,
  mul,
  narrow,
  permute,
  reshape,
  sub,
  sum,
  type Tensor,
  TensorError,
  tidy,
  transpose,
  zeros,
} from '@dynconv/tensor';
import { decayMatrix, fromChunks, lowerMask, pick, prependZero, toChunks } from '../linear-scan/chunks.js';
import { documentResets } from '../linear-scan/reset.js';
import { checkChunkSize, checkDocStart, checkSameFloat, checkShape } from '../linear-scan/validate.js';

const OP = 'gla';

/** Adds the document-reset log-decays to every channel of `gk [B, T, H, K]` (or returns gk). */
export const withChannelResets = (gk: Tensor, docStart: Tensor | undefined): Tensor =>
  docStart ? add(gk, reshape(documentResets(docStart, gk.dtype), [...docStart.shape, 1, 1])) : gk;

export interface GlaOptions {
  /** Query scale (default 1/√K). */
  scale?: number;
  /** `[B, H, K, V]` state before the first token (default zeros). */
  initialState?: Tensor;
  /**
   * Tokens per chunk, a power of two in 1..256 (default 16: the intra-chunk
   * decay tensor is `Q×Q×K` per chunk, so GLA prefers smaller chunks).
   */
  chunkSize?: number;
  /**
   * i32 `[B, T]`: where each token's document starts (packed sequences). A
   * token with `docStart == t > 0` starts from a zero state.
   */
  docStart?: Tensor;
}

export interface GlaResult {
  /** `[B, T, H, V]` */
  o: Tensor;
  /** `[B, H, K, V]` state after the last token (continues with `glaStep`). */
  finalState: Tensor;
}

/** Validates the arguments of the GLA ops; returns the sizes. */
export function checkGlaArgs(op: string, q: Tensor, k: Tensor, v: Tensor, gk: Tensor, options: GlaOptions) {
  checkSameFloat(op, { q, k, v, gk, initialState: options.initialState });
  const [batch, T, H, K] = checkShape(op, 'q', q, [null, null, null, null], 'B, T, H, K') as [
    number,
    number,
    number,
    number,
  ];
  if (T < 1) throw new TensorError(op, `q must have T >= 1 tokens, got ${fmtShape(q.shape)}`);
  checkShape(op, 'k', k, [batch, T, H, K], 'B, T, H, K');
  const [V] = checkShape(op, 'v', v, [batch, T, H, null], 'B, T, H, V') as [number];
  checkShape(op, 'gk', gk, [batch, T, H, K], 'B, T, H, K');
  if (options.initialState)
    checkShape(op, 'initialState', options.initialState, [batch, H, K, V], 'B, H, K, V');
  if (options.chunkSize !== undefined) checkChunkSize(op, options.chunkSize);
  if (options.docStart) checkDocStart(op, options.docStart, q, batch, T);
  return { batch, T, H, K, V };
}

/**
 * Gated linear attention (GLA, per-key-channel data-dependent decay), chunked,
 * differentiable on every backend (composed from tensor ops). Per head, with
 * state `S ∈ R^{K×V}`: `S_t = diag(exp(gk_t)) S_{t−1} + k_t v_tᵀ`,
 * `o_t = S_tᵀ q_t · scale`.
 *
 * Per chunk, with b the in-chunk cumulative log-decay `[Q, K]`:
 * intra-chunk scores `A[i, j] = Σ_d q_id k_jd exp(b_id − b_jd)` (j ≤ i; the
 * exponent is masked before exp, so nothing overflows — the decay cannot be
 * factored into `q e^b` and `k e^{−b}` without overflow risk), inter-chunk
 * `(q ⊙ e^b) S_in`; the states entering all chunks come from one per-channel
 * decay-matrix product over chunks (no sequential loop).
 *
 * @param q `[B, T, H, K]`
 * @param k `[B, T, H, K]`
 * @param v `[B, T, H, V]`
 * @param gk `[B, T, H, K]` log-decay per key channel (≤ 0)
 */
export function gla(q: Tensor, k: Tensor, v: Tensor, gk: Tensor, options: GlaOptions = {}): GlaResult {
  const { batch, T, H, K, V } = checkGlaArgs(OP, q, k, v, gk, options);
  const Q = options.chunkSize ?? 16;
  const scale = options.scale ?? 1 / Math.sqrt(K);
  return tidy(() => {
    const qc = toChunks(mul(q, scale), Q); // [B, H, nC, Q, K]
    const kc = toChunks(k, Q);
    const vc = toChunks(v, Q); // [B, H, nC, Q, V]
    const gc = toChunks(withChannelResets(gk, options.docStart), Q); // [B, H, nC, Q, K]
    const nC = qc.shape[2]!;
    const lead = [batch, H, nC];

    const b = cumsum(gc, -2); // [B, H, nC, Q, K]
    // Intra-chunk scores with the per-channel decay between query row i and key row j.
    const mask = reshape(lowerMask(Q, false, q), [Q, Q, 1]);
    const gap = sub(reshape(b, [...lead, Q, 1, K]), reshape(b, [...lead, 1, Q, K]));
    const decay = mul(exp(mul(gap, mask)), mask); // [B, H, nC, Q, Q, K]
    const pairs = mul(mul(reshape(qc, [...lead, Q, 1, K]), reshape(kc, [...lead, 1, Q, K])), decay);
    const oIntra = matmul(sum(pairs, -1), vc);

    // Each chunk's own end state, then the states entering every chunk.
    const last = narrow(b, 3, Q - 1, 1); // [B, H, nC, 1, K]
    const chunkStates = matmul(transpose(mul(kc, exp(sub(last, b)))), vc); // [B, H, nC, K, V]
    const initial = options.initialState ?? zeros([batch, H, K, V], { dtype: q.dtype, backend: q.backend });
    const slots = permute(concat([reshape(initial, [batch, H, 1, K, V]), chunkStates], 2), [0, 1, 3, 2, 4]);
    const totals = permute(reshape(last, [batch, H, nC, K]), [0, 1, 3, 2]); // [B, H, K, nC]
    const states = permute(matmul(decayMatrix(prependZero(totals, 3)), slots), [0, 1, 3, 2, 4]); // [B, H, nC+1, K, V]
    const entering = narrow(states, 2, 0, nC);
    const finalState = pick(states, 2, nC);

    const oInter = matmul(mul(qc, exp(b)), entering);
    return { o: fromChunks(add(oIntra, oInter), T), finalState };
  });
}
