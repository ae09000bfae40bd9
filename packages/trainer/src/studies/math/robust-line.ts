import { huberSum } from './huber.js';

/** A fitted line y = intercept + slope * x. */
export interface Line {
  readonly intercept: number;
  readonly slope: number;
}

/** Ordinary least squares with weights. */
export const weightedLine = (x: readonly number[], y: readonly number[], w: readonly number[]): Line => {
  let sw = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    sw += w[i]!;
    sx += w[i]! * x[i]!;
    sy += w[i]! * y[i]!;
  }
  const mx = sx / sw;
  const my = sy / sw;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += w[i]! * (x[i]! - mx) ** 2;
    sxy += w[i]! * (x[i]! - mx) * (y[i]! - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope };
};

/**
 * Huber regression of a line by iteratively reweighted least squares: points
 * whose residual exceeds `delta` get weight delta/|r|, so outliers pull
 * linearly rather than quadratically.
 */
export const huberLine = (
  x: readonly number[],
  y: readonly number[],
  delta: number,
  iterations = 50,
): Line => {
  let line = weightedLine(
    x,
    y,
    x.map(() => 1),
  );
  let previous = Number.POSITIVE_INFINITY;
  for (let it = 0; it < iterations; it++) {
    const residuals = x.map((xi, i) => y[i]! - (line.intercept + line.slope * xi));
    const objective = huberSum(residuals, delta);
    if (Math.abs(previous - objective) <= 1e-15 * (1 + objective)) break;
    previous = objective;
    const weights = residuals.map((r) => (Math.abs(r) <= delta ? 1 : delta / Math.abs(r)));
    line = weightedLine(x, y, weights);
  }
  return line;
};
