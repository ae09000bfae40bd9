import { keep, noGrad, type Tensor, tidy } from '@dynconv/tensor';
import { fusedSumOfSquares } from './grad-norm-webgpu.js';

/**
 * The global L2 norm over every gradient, as a one-element tensor (no host
 * read, so the caller can read it together with the loss).
 */
export function globalGradNorm(params: Iterable<Tensor>): Tensor {
  return noGrad(() =>
    tidy(() => {
      const grads = [...params].flatMap((p) => (p.grad ? [p.grad] : []));
      if (grads.length === 0) throw new Error('globalGradNorm: no parameter has a gradient');
      // WebGPU: one dispatch per gradient and one reduction (see grad-norm-webgpu.ts).
      const fused = fusedSumOfSquares(grads);
      if (fused) return fused.sqrt();
      let total: Tensor | null = null;
      for (const g of grads) {
        const s = g.square().sum();
        total = total ? total.add(s) : s;
      }
      return total!.sqrt();
    }),
  );
}

/**
 * The factor that scales gradients of norm `norm` down to at most `maxNorm`
 * (1 when already inside or when clipping is off, i.e. `maxNorm` is 0).
 */
export const clipScale = (norm: number, maxNorm: number): number =>
  maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;

/** Multiplies every gradient by `scale` in place of the old one. */
export function scaleGradients(params: Iterable<Tensor>, scale: number): void {
  if (scale === 1) return;
  noGrad(() => {
    for (const p of params) {
      if (!p.grad) continue;
      // Gradients outlive every scope, like the ones backward() writes.
      const scaled = keep(p.grad.mul(scale));
      p.grad.dispose();
      p.grad = scaled;
    }
  });
}
