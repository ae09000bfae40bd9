import type { ScheduleConfig } from '../config/schema.js';

/**
 * Learning rate at optimizer step `step` (0-based: the step about to be
 * taken) of `totalSteps`: a linear warmup from lr/warmup to `peak`, then the
 * configured shape. Pure and deterministic: resumed runs recompute it from
 * the step alone.
 */
export function learningRate(
  schedule: ScheduleConfig,
  peak: number,
  step: number,
  totalSteps: number,
): number {
  const warmup = Math.min(schedule.warmupSteps, totalSteps);
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const floor = peak * schedule.minLrRatio;
  const decaySteps = Math.max(1, totalSteps - warmup);
  // Progress through the post-warmup phase, 0 at its first step and 1 at the last.
  const progress = Math.min(1, (step - warmup) / Math.max(1, decaySteps - 1));
  switch (schedule.kind) {
    case 'constant':
      return peak;
    case 'linear':
      return peak + (floor - peak) * progress;
    case 'cosine':
      return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    case 'wsd': {
      const decayLength = Math.max(1, Math.round(decaySteps * schedule.decayFraction));
      const decayStart = totalSteps - decayLength;
      if (step < decayStart) return peak;
      const t = decayLength === 1 ? 1 : (step - decayStart) / (decayLength - 1);
      return peak + (floor - peak) * Math.min(1, t);
    }
  }
}
