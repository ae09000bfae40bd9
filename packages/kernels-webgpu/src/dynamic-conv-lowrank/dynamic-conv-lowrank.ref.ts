import { add, matmul, mul, narrow, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { shiftWithinDocument, tapRow } from '../common/causal-shift.js';
import type { DynamicConvOptions } from '../dynamic-conv-headwise/dynamic-conv-headwise.ref.js';

/**
 * Composed low-rank dynamic convolution (the plain reference, any backend):
 * `K[t] = z[t] · U` reshaped `[W, D]` (U stored `[R, W*D]`, tap-major),
 * `y[t, c] = Σ_w (K[t, w, c] + S[w, c]) · x[t - w, c] (+ x[t, c])`.
 * Shapes are validated by the caller.
 */
export function dynamicConvLowRankRef(
  x: Tensor,
  z: Tensor,
  u: Tensor,
  options: DynamicConvOptions = {},
): Tensor {
  return tidy(() => {
    const [B, T, D] = x.shape as [number, number, number];
    const W = u.shape[1]! / D;
    const taps = reshape(matmul(z, u), [B, T, W, D]);
    let y: Tensor | null = null;
    for (let w = 0; w < W; w++) {
      const shifted = shiftWithinDocument(x, w, options.docStart);
      let k = reshape(narrow(taps, 2, w, 1), [B, T, D]);
      if (options.static) k = add(k, tapRow(options.static, w));
      const term = mul(shifted, k);
      y = y ? add(y, term) : term;
    }
    return options.residual ? add(y!, x) : y!;
  });
}
