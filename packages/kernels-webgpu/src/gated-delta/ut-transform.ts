import {
  concat,
  exp,
  matmul,
  mul,
  neg,
  ones,
  reshape,
  sub,
  type Tensor,
  transpose,
  zerosLike,
} from '@dynconv/tensor';
import { pick } from '../linear-scan/chunks.js';

/**
 * The UT transform of the chunked delta rule: `T = (I + A)⁻¹` for the
 * strictly lower-triangular `A[i, j] = (kβ_i · k_j) · exp(γ_i − γ_j)`, `i > j`,
 * per chunk. `U = T (β⊙v)` and `W = T (β⊙k⊙e^γ)` then give the delta-rule
 * corrections of a whole chunk at once (the WY representation).
 *
 * Instead of Q sequential forward-substitution rows, the inverse is built by
 * block recursion, log2(Q) levels of batched matmuls:
 * `[[L11, 0], [L21, L22]]⁻¹ = [[X, 0], [−Y·L21·X, Y]]` with `X = L11⁻¹`,
 * `Y = L22⁻¹` — block forward substitution, as stable as the row-wise form
 * (unlike a Neumann series, whose partial sums cancel catastrophically for
 * correlated keys). Each off-diagonal block `L21` is computed directly from
 * k (rows after columns, so its decay exponents are ≤ 0 and cannot overflow).
 *
 * @param kBeta `[..., Q, K]` β-scaled keys
 * @param k `[..., Q, K]`
 * @param gamma `[..., Q]` cumulative log-decay within the chunk
 * @returns `[..., Q, Q]` (Q a power of two)
 */
export function utTransform(kBeta: Tensor, k: Tensor, gamma: Tensor): Tensor {
  const lead = k.shape.slice(0, -2);
  const [Q, K] = k.shape.slice(-2) as [number, number];
  let inverse = ones([...lead, Q, 1, 1], { dtype: k.dtype, backend: k.backend }); // 1×1 diagonal blocks
  for (let b = 1; b < Q; b *= 2) {
    const m = Q / (2 * b);
    const half = (t: Tensor, i: 0 | 1, width: number) => pick(reshape(t, [...lead, m, 2, b, width]), -3, i);
    const gammaPairs = reshape(gamma, [...lead, m, 2, b]);
    const rowsGamma = reshape(pick(gammaPairs, -2, 1), [...lead, m, b, 1]);
    const colsGamma = reshape(pick(gammaPairs, -2, 0), [...lead, m, 1, b]);
    const lower = mul(matmul(half(kBeta, 1, K), transpose(half(k, 0, K))), exp(sub(rowsGamma, colsGamma)));
    const pairs = reshape(inverse, [...lead, m, 2, b, b]);
    const x = pick(pairs, -3, 0);
    const y = pick(pairs, -3, 1);
    const off = neg(matmul(matmul(y, lower), x));
    inverse = concat([concat([x, zerosLike(x)], -1), concat([off, y], -1)], -2); // [..., m, 2b, 2b]
  }
  return reshape(inverse, [...lead, Q, Q]);
}
