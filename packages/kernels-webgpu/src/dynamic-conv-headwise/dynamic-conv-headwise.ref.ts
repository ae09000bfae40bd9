import { add, mul, narrow, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { shiftWithinDocument, tapRow } from '../common/causal-shift.js';

export interface DynamicConvOptions {
  /** Static filter `[W, D]` added to the generated taps (the DSC "S"). */
  static?: Tensor;
  /** Adds `x` to the output. Default false. */
  residual?: boolean;
  /** i32 `[B, T]`: the position where each token's document starts; taps never reach before it. */
  docStart?: Tensor;
}

/**
 * Composed head-wise dynamic convolution (the plain reference, any backend):
 * `y[t, c] = Σ_w (taps[t, ⌊c/hs⌋, w] + S[w, c]) · x[t - w, c] (+ x[t, c])`.
 * x `[B, T, D]`, taps `[B, T, H, W]`, hs = D / H. Shapes are validated by the caller.
 */
export function dynamicConvHeadwiseRef(x: Tensor, taps: Tensor, options: DynamicConvOptions = {}): Tensor {
  return tidy(() => {
    const [B, T, D] = x.shape as [number, number, number];
    const [, , H, W] = taps.shape as [number, number, number, number];
    let y: Tensor | null = null;
    for (let w = 0; w < W; w++) {
      const shifted = shiftWithinDocument(x, w, options.docStart);
      const perHead = mul(reshape(shifted, [B, T, H, D / H]), narrow(taps, 3, w, 1));
      let term = reshape(perHead, [B, T, D]);
      if (options.static) term = add(term, mul(shifted, tapRow(options.static, w)));
      y = y ? add(y, term) : term;
    }
    return options.residual ? add(y!, x) : y!;
  });
}
