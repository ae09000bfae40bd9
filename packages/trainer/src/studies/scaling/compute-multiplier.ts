import { huberSum } from '../math/huber.js';
import { SeededRandom } from '../math/rng.js';
import {
  computeForLoss,
  fitScalingLaw,
  logResiduals,
  predictLoss,
  type ScalingFitOptions,
  type ScalingLawFit,
  type ScalingPoint,
} from './power-law-fit.js';

/** A trained model of a ladder: a size label (rung) plus its compute and loss. */
export interface LadderRun extends ScalingPoint {
  /** Rung of the ladder (e.g. `d256-L4`); seeds of one rung share it. */
  readonly size: string;
}

/**
 * The shared-exponent multiplier: the single m with L_var(C) ≈ L_base(m·C)
 * under the baseline's fitted E, A, alpha (method.md §6, step 4). One scalar
 * is fitted instead of three, which keeps its variance low on short ladders.
 * m > 1: the variant reaches the baseline's loss with 1/m of the compute.
 */
export const fitSharedMultiplier = (
  baseFit: ScalingLawFit,
  variant: readonly ScalingPoint[],
  delta = baseFit.delta,
): number => {
  const objective = (logM: number) =>
    huberSum(
      variant.map((p) => Math.log(p.loss) - Math.log(predictLoss(baseFit, Math.exp(logM) * p.compute))),
      delta,
    );
  // Coarse grid, then golden-section search in the best bracket.
  const grid = Array.from({ length: 401 }, (_, i) => -10 + (20 * i) / 400);
  let bestIndex = 0;
  grid.forEach((g, i) => {
    if (objective(g) < objective(grid[bestIndex]!)) bestIndex = i;
  });
  let lo = grid[Math.max(0, bestIndex - 1)]!;
  let hi = grid[Math.min(grid.length - 1, bestIndex + 1)]!;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 100 && hi - lo > 1e-12; it++) {
    const m1 = hi - phi * (hi - lo);
    const m2 = lo + phi * (hi - lo);
    if (objective(m1) <= objective(m2)) hi = m2;
    else lo = m1;
  }
  return Math.exp((lo + hi) / 2);
};

/**
 * The multiplier from two independent fits at the variant's largest trained
 * compute C*: m = C_base(L_var(C*)) / C* — how much more compute the
 * baseline needs for the loss the variant reached (interpolated, not far
 * extrapolated: method.md §6, step 5). Infinity when the baseline's fit never
 * reaches that loss.
 */
export const multiplierAtCompute = (
  baseFit: ScalingLawFit,
  variantFit: ScalingLawFit,
  compute: number,
): number => computeForLoss(baseFit, predictLoss(variantFit, compute)) / compute;

export interface MultiplierWithInterval {
  /** Shared-exponent multiplier on the full data. */
  readonly multiplier: number;
  readonly lower: number;
  readonly upper: number;
  /** Two-fit multiplier at the variant's largest compute, with its own interval. */
  readonly atMaxCompute: {
    readonly compute: number;
    readonly multiplier: number;
    readonly lower: number;
    readonly upper: number;
  };
  readonly confidence: number;
  /** `cases`: resampled seeds within each rung; `residuals`: resampled fit residuals (one seed per rung). */
  readonly method: 'cases' | 'residuals';
  /** Replicates whose fits succeeded (failed refits are dropped). */
  readonly replicates: number;
  readonly baseFit: ScalingLawFit;
  readonly variantFit: ScalingLawFit;
}

export interface BootstrapOptions extends ScalingFitOptions {
  readonly samples?: number;
  readonly seed?: number;
  readonly confidence?: number;
}

/** The q-quantile of sorted values (linear interpolation; infinite values are taken as they are). */
export const quantile = (sorted: readonly number[], q: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const position = q * (sorted.length - 1);
  const lo = sorted[Math.floor(position)]!;
  const hi = sorted[Math.ceil(position)]!;
  // Infinite multipliers (a fit that never reaches the loss) cannot be interpolated.
  if (lo === hi || !Number.isFinite(lo) || !Number.isFinite(hi)) return position % 1 < 0.5 ? lo : hi;
  return lo + (hi - lo) * (position % 1);
};

const byRung = (runs: readonly LadderRun[]): LadderRun[][] => {
  const groups = new Map<string, LadderRun[]>();
  for (const run of runs) groups.set(run.size, [...(groups.get(run.size) ?? []), run]);
  return [...groups.values()];
};

/**
 * Multiplier of a variant over the baseline with a bootstrap confidence
 * interval. With several seeds at every rung, each replicate redraws seeds
 * within rungs (case bootstrap); with one run per rung, it redraws the fits'
 * log residuals (inflated by √(n/(n−3)) for the fitted parameters) around
 * each fitted curve. Percentile interval.
 */
export const bootstrapMultiplier = (
  base: readonly LadderRun[],
  variant: readonly LadderRun[],
  options: BootstrapOptions = {},
): MultiplierWithInterval => {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const random = new SeededRandom(options.seed ?? 0);
  const baseFit = fitScalingLaw(base, options);
  const variantFit = fitScalingLaw(variant, options);
  const maxCompute = Math.max(...variant.map((r) => r.compute));
  const multiplier = fitSharedMultiplier(baseFit, variant, baseFit.delta);
  const atMax = multiplierAtCompute(baseFit, variantFit, maxCompute);

  const baseRungs = byRung(base);
  const variantRungs = byRung(variant);
  const method = [...baseRungs, ...variantRungs].every((rung) => rung.length >= 2) ? 'cases' : 'residuals';
  const residualDraw = (runs: readonly LadderRun[], fit: ScalingLawFit) => {
    const residuals = logResiduals(fit, runs);
    const inflate = runs.length > 3 ? Math.sqrt(runs.length / (runs.length - 3)) : 1;
    return () =>
      runs.map((run) => ({
        ...run,
        loss: predictLoss(fit, run.compute) * Math.exp(inflate * residuals[random.int(residuals.length)]!),
      }));
  };
  const caseDraw = (rungs: readonly LadderRun[][]) => () =>
    rungs.flatMap((rung) => rung.map(() => rung[random.int(rung.length)]!));
  const drawBase = method === 'cases' ? caseDraw(baseRungs) : residualDraw(base, baseFit);
  const drawVariant = method === 'cases' ? caseDraw(variantRungs) : residualDraw(variant, variantFit);

  const shared: number[] = [];
  const atMaxSamples: number[] = [];
  for (let s = 0; s < samples; s++) {
    const b = drawBase();
    const v = drawVariant();
    try {
      const bf = fitScalingLaw(b, { ...options, gridSize: Math.min(options.gridSize ?? 200, 60) });
      const vf = fitScalingLaw(v, { ...options, gridSize: Math.min(options.gridSize ?? 200, 60) });
      shared.push(fitSharedMultiplier(bf, v, bf.delta));
      atMaxSamples.push(multiplierAtCompute(bf, vf, maxCompute));
    } catch {
      // A degenerate redraw (too few distinct computes) says nothing; skip it.
    }
  }
  shared.sort((p, q) => p - q);
  atMaxSamples.sort((p, q) => p - q);
  const tail = (1 - confidence) / 2;
  return {
    multiplier,
    lower: quantile(shared, tail),
    upper: quantile(shared, 1 - tail),
    atMaxCompute: {
      compute: maxCompute,
      multiplier: atMax,
      lower: quantile(atMaxSamples, tail),
      upper: quantile(atMaxSamples, 1 - tail),
    },
    confidence,
    method,
    replicates: shared.length,
    baseFit,
    variantFit,
  };
};
