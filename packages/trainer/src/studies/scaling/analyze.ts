import type { SweepResultRow } from '../../sweep/results.js';
import { bootstrapMultiplier, type LadderRun, type MultiplierWithInterval } from './compute-multiplier.js';
import { BASELINE_OF, type ScalingVariant } from './config.js';
import { fitScalingLaw, type ScalingLawFit } from './power-law-fit.js';

/** One finished ladder run with what the report shows. */
export interface LadderPoint extends LadderRun {
  readonly variant: string;
  readonly rung: number;
  readonly seed: number;
  readonly parameters: number;
  readonly nonEmbeddingParameters: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSec: number;
}

export interface VariantFit {
  readonly variant: string;
  readonly fit: ScalingLawFit | null;
  /** Why there is no fit (too few finished rungs, non-finite losses). */
  readonly problem: string | null;
  readonly points: readonly LadderPoint[];
}

export interface MultiplierRow {
  readonly variant: string;
  readonly baseline: string;
  readonly result: MultiplierWithInterval | null;
  readonly problem: string | null;
}

export interface ScalingAnalysis {
  readonly fits: readonly VariantFit[];
  readonly multipliers: readonly MultiplierRow[];
}

/** The finished runs as ladder points (final eval loss against training FLOPs). */
export const ladderPoints = (rows: readonly SweepResultRow[]): LadderPoint[] =>
  rows.flatMap((row) => {
    const loss = row.metrics?.['evalLoss'];
    if (row.status !== 'done' || loss === undefined || !Number.isFinite(loss)) return [];
    const o = row.overrides as Record<string, string | number>;
    return [
      {
        variant: String(o['variant']),
        rung: Number(o['rung']),
        size: String(o['size']),
        seed: Number(o['seed']),
        parameters: Number(o['parameters']),
        nonEmbeddingParameters: Number(o['nonEmbeddingParameters']),
        tokens: Number(o['tokens']),
        compute: Number(o['compute']),
        loss,
        seconds: row.metrics?.['seconds'] ?? Number.NaN,
        tokensPerSec: row.metrics?.['tokensPerSec'] ?? Number.NaN,
      },
    ];
  });

/**
 * Fits L(C) per architecture and measures each variant against its baseline
 * (shared-exponent multiplier with a bootstrap CI, plus the two-fit
 * multiplier at the largest trained compute). Problems (a diverged rung, a
 * degenerate fit) are reported, not thrown: a paper table shows the gap.
 */
export const analyzeLadder = (
  variants: readonly ScalingVariant[],
  points: readonly LadderPoint[],
  options: { readonly samples: number; readonly seed?: number },
): ScalingAnalysis => {
  const fits = variants.map((variant): VariantFit => {
    const own = points.filter((p) => p.variant === variant);
    try {
      return { variant, fit: fitScalingLaw(own), problem: null, points: own };
    } catch (error) {
      return { variant, fit: null, problem: (error as Error).message, points: own };
    }
  });
  const multipliers = variants.flatMap((variant): MultiplierRow[] => {
    const baseline = BASELINE_OF[variant];
    if (baseline === null || !variants.includes(baseline)) return [];
    const base = fits.find((f) => f.variant === baseline)!;
    const mine = fits.find((f) => f.variant === variant)!;
    if (!base.fit || !mine.fit)
      return [{ variant, baseline, result: null, problem: base.problem ?? mine.problem ?? 'no fit' }];
    try {
      const result = bootstrapMultiplier(base.points, mine.points, {
        samples: options.samples,
        seed: options.seed ?? 0,
      });
      return [{ variant, baseline, result, problem: null }];
    } catch (error) {
      return [{ variant, baseline, result: null, problem: (error as Error).message }];
    }
  });
  return { fits, multipliers };
};
