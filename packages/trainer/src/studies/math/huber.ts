/**
 * Huber loss of a residual: quadratic within `delta`, linear beyond, so a few
 * bad points (a diverged run, a noisy small model) cannot drag a fit around.
 * Chinchilla fits scaling laws with delta = 1e-3 on log-loss residuals.
 */
export const huber = (residual: number, delta: number): number => {
  const a = Math.abs(residual);
  return a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
};

/** Sum of Huber losses. */
export const huberSum = (residuals: readonly number[], delta: number): number =>
  residuals.reduce((sum, r) => sum + huber(r, delta), 0);
