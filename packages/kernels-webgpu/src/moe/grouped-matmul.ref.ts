import { add, arange, cast, ge, lt, matmul, mul, reshape, type Tensor, tidy } from '@dynconv/tensor';

/**
 * Dense grouped-matmul reference (any backend, differentiable through the
 * plain ops): `y = Σ_e [offsets[e] ≤ r < offsets[e+1]] · (x · w[e])`. Every
 * expert multiplies every row (E times the work of `groupedMatmul`) — for tests.
 *
 * @param x `[R, K]`
 * @param w `[E, K, M]`
 * @param offsets i32 `[E + 1]`
 * @returns `[R, M]`
 */
export function groupedMatmulRef(x: Tensor, w: Tensor, offsets: Tensor): Tensor {
  return tidy(() => {
    const R = x.shape[0]!;
    const E = w.shape[0]!;
    const rows = reshape(arange(0, R, 1, { dtype: 'i32', backend: x.backend }), [R, 1]);
    let y: Tensor | null = null;
    for (let e = 0; e < E; e++) {
      const inside = mul(
        cast(ge(rows, offsets.narrow(0, e, 1)), x.dtype),
        cast(lt(rows, offsets.narrow(0, e + 1, 1)), x.dtype),
      );
      const term = mul(matmul(x, reshape(w.narrow(0, e, 1), w.shape.slice(1))), inside);
      y = y ? add(y, term) : term;
    }
    return y!;
  });
}
