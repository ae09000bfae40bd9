import { keep, noGrad, type Tensor, tidy } from '@dynconv/tensor';

/**
 * The global L2 norm over every gradient, as a one-element tensor (no host
 * read, so the caller can read it together with the loss).
 */
export function globalGradNorm(params: Iterable<Tensor>): Tensor {
  return noGrad(() =>
    tidy(() => {
      let total: Tensor | null = null;
      for (const p of params) {
        if (!p.grad) continue;
        const s = p.grad.square().sum();
        total = total ? total.add(s) : s;
      }
      if (!total) throw new Error('globalGradNorm: no parameter has a gradient');
      return total.sqrt();
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
