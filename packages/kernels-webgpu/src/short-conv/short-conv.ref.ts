import { add, silu, type Tensor, tidy } from '@dynconv/tensor';
import { shiftWithinDocument, tapRow } from '../common/causal-shift.js';

export interface ShortConvOptions {
  /** `[D]`, added before the activation. */
  bias?: Tensor;
  /** Applied to `conv + bias`, before the residual. Default none. */
  activation?: 'silu' | null;
  /** Adds `x` to the output (after the activation). Default false. */
  residual?: boolean;
  /** i32 `[B, T]`: the position where each token's document starts; taps never reach before it. */
  docStart?: Tensor;
}

/**
 * Composed static causal depthwise convolution (the plain reference, any backend):
 * `y[t, c] = act(Σ_w weight[w, c] · x[t - w, c] + bias[c]) (+ x[t, c])`, lag order.
 * Shapes are validated by the public `shortConv`.
 */
export function shortConvRef(x: Tensor, weight: Tensor, options: ShortConvOptions = {}): Tensor {
  return tidy(() => {
    const W = weight.shape[0]!;
    let y: Tensor | null = null;
    for (let w = 0; w < W; w++) {
      const term = shiftWithinDocument(x, w, options.docStart).mul(tapRow(weight, w));
      y = y ? add(y, term) : term;
    }
    let out = y!;
    if (options.bias) out = add(out, options.bias);
    if (options.activation === 'silu') out = silu(out);
    if (options.residual) out = add(out, x);
    return out;
  });
}
