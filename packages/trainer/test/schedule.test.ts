import { describe, expect, it } from 'vitest';
import type { ScheduleConfig } from '../src/config/schema.js';
import { learningRate } from '../src/optim/schedule.js';

const sched = (over: Partial<ScheduleConfig>): ScheduleConfig => ({
  kind: 'cosine',
  warmupSteps: 10,
  minLrRatio: 0.1,
  decayFraction: 0.2,
  ...over,
});

describe('learning-rate schedules', () => {
  it('warms up linearly to the peak', () => {
    const s = sched({});
    expect(learningRate(s, 1, 0, 110)).toBeCloseTo(0.1);
    expect(learningRate(s, 1, 4, 110)).toBeCloseTo(0.5);
    expect(learningRate(s, 1, 9, 110)).toBeCloseTo(1);
  });

  it('cosine decays from the peak to minLrRatio, passing the midpoint halfway', () => {
    const s = sched({});
    expect(learningRate(s, 1, 10, 110)).toBeCloseTo(1);
    expect(learningRate(s, 1, 109, 110)).toBeCloseTo(0.1);
    // 100 post-warmup steps: progress 0.5 at step 10 + 49.5
    const mid = (learningRate(s, 1, 59, 110) + learningRate(s, 1, 60, 110)) / 2;
    expect(mid).toBeCloseTo(0.55, 2);
  });

  it('linear decays evenly', () => {
    const s = sched({ kind: 'linear', warmupSteps: 0, minLrRatio: 0 });
    expect(learningRate(s, 2, 0, 5)).toBeCloseTo(2);
    expect(learningRate(s, 2, 2, 5)).toBeCloseTo(1);
    expect(learningRate(s, 2, 4, 5)).toBeCloseTo(0);
  });

  it('constant stays at the peak after warmup', () => {
    const s = sched({ kind: 'constant', warmupSteps: 2 });
    expect(learningRate(s, 3, 0, 100)).toBeCloseTo(1.5);
    expect(learningRate(s, 3, 50, 100)).toBe(3);
    expect(learningRate(s, 3, 99, 100)).toBe(3);
  });

  it('wsd holds the peak, then decays linearly over the last fraction', () => {
    const s = sched({ kind: 'wsd', warmupSteps: 0, minLrRatio: 0, decayFraction: 0.25 });
    expect(learningRate(s, 1, 0, 100)).toBe(1);
    expect(learningRate(s, 1, 74, 100)).toBe(1);
    expect(learningRate(s, 1, 75, 100)).toBeCloseTo(1);
    expect(learningRate(s, 1, 99, 100)).toBeCloseTo(0);
    expect(learningRate(s, 1, 87, 100)).toBeLessThan(0.55);
  });
});
