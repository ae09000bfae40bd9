import { huberSum } from '../math/huber.js';
import { nelderMead } from '../math/nelder-mead.js';
import { huberLine } from '../math/robust-line.js';

/** One trained model: its training compute (FLOPs) and final eval loss. */
export interface ScalingPoint {
  readonly compute: number;
  readonly loss: number;
}

/** L(C) = E + A·C^(−alpha), fitted robustly in log space. */
export interface ScalingLawFit {
  /** Irreducible loss. */
  readonly E: number;
  /** log A (A itself can be astronomically large for FLOP-scale C). */
  readonly logA: number;
  readonly alpha: number;
  /** Huber objective at the optimum (sum over points, log-loss residuals). */
  readonly objective: number;
  readonly delta: number;
  readonly points: number;
}

export interface ScalingFitOptions {
  /** Huber threshold on log-loss residuals. Default 1e-3 (Chinchilla). */
  readonly delta?: number;
  /** Size of the initial grid over E in [0, min loss). Default 200. */
  readonly gridSize?: number;
  /** Fix E (0 gives a pure power law, for a narrow compute range). */
  readonly fixedE?: number;
}

/** The fitted loss at compute C. */
export const predictLoss = (fit: Pick<ScalingLawFit, 'E' | 'logA' | 'alpha'>, compute: number): number =>
  fit.E + Math.exp(fit.logA - fit.alpha * Math.log(compute));

/** Compute at which the fit reaches `loss`; Infinity when loss ≤ E (never reached). */
export const computeForLoss = (fit: Pick<ScalingLawFit, 'E' | 'logA' | 'alpha'>, loss: number): number =>
  loss <= fit.E || fit.alpha <= 0
    ? Number.POSITIVE_INFINITY
    : Math.exp((fit.logA - Math.log(loss - fit.E)) / fit.alpha);

/** Log-space residuals log L_i − log L̂(C_i). */
export const logResiduals = (
  fit: Pick<ScalingLawFit, 'E' | 'logA' | 'alpha'>,
  points: readonly ScalingPoint[],
): number[] => points.map((p) => Math.log(p.loss) - Math.log(predictLoss(fit, p.compute)));

/**
 * Fits L(C) = E + A·C^(−alpha) with a Huber loss on log-loss residuals.
 * For each E on a grid over [0, min L), log(L − E) = log A − alpha·log C is a
 * line, fitted by Huber regression; the best (E, A, alpha) of the grid then
 * seeds a Nelder–Mead refinement of the full objective. Compute is centred in
 * log space first, so the problem stays well conditioned at 1e20 FLOPs.
 */
export const fitScalingLaw = (
  points: readonly ScalingPoint[],
  options: ScalingFitOptions = {},
): ScalingLawFit => {
  const delta = options.delta ?? 1e-3;
  const gridSize = options.gridSize ?? 200;
  if (points.some((p) => !(p.compute > 0) || !(p.loss > 0) || !Number.isFinite(p.loss))) {
    throw new RangeError('fitScalingLaw: compute and loss must be positive and finite');
  }
  const distinct = new Set(points.map((p) => p.compute)).size;
  const freeParameters = options.fixedE === undefined ? 3 : 2;
  if (distinct < freeParameters) {
    throw new RangeError(
      `fitScalingLaw: need at least ${freeParameters} distinct compute values, got ${distinct}`,
    );
  }
  const logC = points.map((p) => Math.log(p.compute));
  const mu = logC.reduce((a, b) => a + b, 0) / logC.length;
  const x = logC.map((v) => v - mu);
  const logL = points.map((p) => Math.log(p.loss));
  const objective = (E: number, a: number, alpha: number) =>
    E < 0
      ? Number.POSITIVE_INFINITY
      : huberSum(
          x.map((xi, i) => logL[i]! - Math.log(E + Math.exp(a - alpha * xi))),
          delta,
        );

  const minLoss = Math.min(...points.map((p) => p.loss));
  const candidates =
    options.fixedE === undefined
      ? Array.from({ length: gridSize }, (_, k) => (minLoss * k) / gridSize)
      : [options.fixedE];
  let best = { E: 0, a: 0, alpha: 0, value: Number.POSITIVE_INFINITY };
  for (const E of candidates) {
    if (E >= minLoss) continue;
    const line = huberLine(
      x,
      points.map((p) => Math.log(p.loss - E)),
      delta,
    );
    const value = objective(E, line.intercept, -line.slope);
    if (value < best.value) best = { E, a: line.intercept, alpha: -line.slope, value };
  }
  const refined =
    options.fixedE === undefined
      ? nelderMead(([E, a, alpha]) => objective(E!, a!, alpha!), [best.E, best.a, best.alpha], {
          step: [Math.max(0.05 * minLoss, 1e-3), 0.1, 0.02],
        })
      : nelderMead(([a, alpha]) => objective(options.fixedE!, a!, alpha!), [best.a, best.alpha], {
          step: [0.1, 0.02],
        });
  const [E, a, alpha] =
    options.fixedE === undefined
      ? (refined.x as [number, number, number])
      : [options.fixedE, refined.x[0]!, refined.x[1]!];
  const useRefined = refined.value <= best.value;
  const fit = useRefined ? { E, a, alpha, value: refined.value } : best;
  return {
    E: fit.E,
    logA: fit.a + fit.alpha * mu,
    alpha: fit.alpha,
    objective: fit.value,
    delta,
    points: points.length,
  };
};
