import {
  add,
  concat,
  cumsum,
  exp,
  expand,
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
import { decayMatrix, fromChunks, prependZero, toChunks } from '../linear-scan/chunks.js';
import { expandGroups } from '../linear-scan/groups.js';
import { documentResets } from '../linear-scan/reset.js';
import {
  checkChunkSize,
  checkDocStart,
  checkGroups,
  checkSameFloat,
  checkShape,
} from '../linear-scan/validate.js';

const OP = 'ssd';

/** `[B, T]` → `[B, T, H]` (the same value for every head). */
export const perHead = (t: Tensor, H: number): Tensor => expand(reshape(t, [...t.shape, 1]), [...t.shape, H]);

export interface SsdOptions {
  /** `[H]` skip: adds `D[h]·x`. */
  D?: Tensor;
  /** `[B, H, P, N]` state before the first token (default zeros). */
  initialState?: Tensor;
  /** Tokens per chunk, a power of two in 1..256 (default 64). */
  chunkSize?: number;
  /**
   * i32 `[B, T]`: where each token's document starts (packed sequences). A
   * token with `docStart == t > 0` starts from a zero state.
   */
  docStart?: Tensor;
}

export interface SsdResult {
  /** `[B, T, H, P]` */
  y: Tensor;
  /** `[B, H, P, N]` state after the last token (continues with `ssdStep`). */
  finalState: Tensor;
}

/** Validates the arguments of the SSD ops; returns the sizes. */
export function checkSsdArgs(
  op: string,
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  options: SsdOptions,
) {
  checkSameFloat(op, { x, dt, A, B: Bm, C: Cm, D: options.D, initialState: options.initialState });
  const [batch, T, H, P] = checkShape(op, 'x', x, [null, null, null, null], 'B, T, H, P') as [
    number,
    number,
    number,
    number,
  ];
  if (T < 1) throw new TensorError(op, `x must have T >= 1 tokens, got ${fmtShape(x.shape)}`);
  checkShape(op, 'dt', dt, [batch, T, H], 'B, T, H');
  checkShape(op, 'A', A, [H], 'H');
  const [G, N] = checkShape(op, 'B', Bm, [batch, T, null, null], 'B, T, G, N') as [number, number];
  checkGroups(op, 'B', G, H, Bm.shape);
  checkShape(op, 'C', Cm, [batch, T, G, N], 'B, T, G, N');
  if (options.D) checkShape(op, 'D', options.D, [H], 'H');
  if (options.initialState)
    checkShape(op, 'initialState', options.initialState, [batch, H, P, N], 'B, H, P, N');
  if (options.chunkSize !== undefined) checkChunkSize(op, options.chunkSize);
  if (options.docStart) checkDocStart(op, options.docStart, x, batch, T);
  return { batch, T, H, P, G, N };
}

/**
 * Mamba-2 state-space duality (SSD) scan, chunked, differentiable on every
 * backend (composed from matmul, cumsum, exp and masks). Per head h, with
 * `a_t = dt_t·A[h]` and state `S ∈ R^{P×N}`:
 * `S_t = exp(a_t)·S_{t−1} + (dt_t·x_t) ⊗ B_t`, `y_t = S_t·C_t + D[h]·x_t`.
 *
 * Chunked as in Mamba-2's `ssd_minimal`: (1) intra-chunk outputs
 * `(C Bᵀ ⊙ L) (x·dt)` with the decay matrix L; (2) each chunk's end state;
 * (3) the states entering every chunk, all at once as one decay-matrix product
 * over chunks; (4) their contribution `exp(cumsum a) · (C · S_in)`.
 * Cost O(T·Q·(N+P) + (T/Q)²·P·N) per head.
 *
 * @param x `[B, T, H, P]`
 * @param dt `[B, T, H]` step sizes (after softplus)
 * @param A `[H]` decay rates (negative: `−exp(A_log)`)
 * @param Bm `[B, T, G, N]` input projections, G groups dividing H
 * @param Cm `[B, T, G, N]` output projections
 */
export function ssd(
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  options: SsdOptions = {},
): SsdResult {
  const { batch, T, H, P, N } = checkSsdArgs(OP, x, dt, A, Bm, Cm, options);
  const Q = options.chunkSize ?? 64;
  return tidy(() => {
    const xc = toChunks(x, Q); // [B, H, nC, Q, P]
    const dtc = toChunks(dt, Q); // [B, H, nC, Q]
    const bc = toChunks(expandGroups(Bm, H), Q); // [B, H, nC, Q, N]
    const cc = toChunks(expandGroups(Cm, H), Q);
    const nC = xc.shape[2]!;

    let logDecay = mul(dtc, reshape(A, [1, H, 1, 1])); // a_t
    if (options.docStart)
      logDecay = add(logDecay, toChunks(perHead(documentResets(options.docStart, x.dtype), H), Q));
    const within = cumsum(logDecay, -1); // Σ a over the chunk up to t
    const xdt = mul(xc, reshape(dtc, [batch, H, nC, Q, 1]));

    // (1) intra-chunk: y_i = Σ_{j≤i} (C_i·B_j) exp(Σ_{j<k≤i} a_k) (dt_j x_j)
    const scores = mul(matmul(cc, transpose(bc)), decayMatrix(logDecay));
    const yDiag = matmul(scores, xdt);

    // (2) chunk end states: Σ_j exp(Σ_{j<k≤Q} a_k) (dt_j x_j) ⊗ B_j
    const total = narrow(within, 3, Q - 1, 1); // [B, H, nC, 1]
    const toEnd = exp(sub(total, within));
    const chunkStates = matmul(transpose(mul(xdt, reshape(toEnd, [batch, H, nC, Q, 1]))), bc); // [B, H, nC, P, N]

    // (3) states entering each chunk: slot 0 is the initial state, slot c+1 chunk c's own contribution.
    const initial = options.initialState ?? zeros([batch, H, P, N], { dtype: x.dtype, backend: x.backend });
    const slots = concat(
      [reshape(initial, [batch, H, 1, P * N]), reshape(chunkStates, [batch, H, nC, P * N])],
      2,
    );
    const chunkDecay = decayMatrix(prependZero(reshape(total, [batch, H, nC]), 2)); // [B, H, nC+1, nC+1]
    const states = matmul(chunkDecay, slots); // [B, H, nC+1, P·N]
    const entering = reshape(narrow(states, 2, 0, nC), [batch, H, nC, P, N]);
    const finalState = reshape(narrow(states, 2, nC, 1), [batch, H, P, N]);

    // (4) contribution of the entering state: exp(Σ_{k≤i} a_k) · (S_in C_i)
    const yOff = mul(matmul(cc, transpose(entering)), reshape(exp(within), [batch, H, nC, Q, 1]));

    let y = fromChunks(add(yDiag, yOff), T);
    if (options.D) y = add(y, mul(x, reshape(options.D, [H, 1])));
    return { y, finalState };
  });
}
