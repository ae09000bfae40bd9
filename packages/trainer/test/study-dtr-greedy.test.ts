import { describe, expect, test } from 'vitest';
import { greedyReplacement, randomLayers, uniformLayers } from '../src/studies/dtr/greedy.js';
import { SeededRandom } from '../src/studies/math/rng.js';

/** A known landscape: each layer costs something to replace; layers 1 and 2 interact badly. */
const cost = [0.01, 0.03, 0.002, 0.2];
const landscape = (replaced: readonly number[]) =>
  0.9 -
  replaced.reduce((s, l) => s + cost[l]!, 0) -
  (replaced.includes(1) && replaced.includes(2) ? 0.05 : 0);

describe('greedy validation-driven replacement (method.md §3.2)', () => {
  test('tries every remaining layer, keeps the best, stops under the threshold', async () => {
    const seen: string[] = [];
    const result = await greedyReplacement(
      4,
      async (r) => {
        seen.push(r.join(','));
        return landscape(r);
      },
      (base) => base * 0.95, // ≤5% relative drop: P_min = 0.855
    );
    expect(result.baseScore).toBeCloseTo(0.9, 12);
    expect(result.minScore).toBeCloseTo(0.855, 12);
    // Round 1: layer 2 (cost 0.002); round 2: layer 0 (0.01); round 3: layer 1 would cost 0.03 + 0.05 → 0.808 < P_min.
    expect(result.rounds.map((r) => [r.chosen, r.accepted])).toEqual([
      [2, true],
      [0, true],
      [1, false],
    ]);
    expect(result.rounds[0]!.candidates.map((c) => c.layer)).toEqual([0, 1, 2, 3]);
    expect(result.rounds[1]!.candidates.map((c) => c.layer)).toEqual([0, 1, 3]);
    expect(result.mostLinear.replaced).toEqual([0, 2]);
    expect(result.mostLinear.score).toBeCloseTo(0.888, 12);
    // No replacement ever beats the full model here, so M_best stays the full model.
    expect(result.best.replaced).toEqual([]);
    expect(result.evaluations).toBe(1 + 4 + 3 + 2);
    expect(seen.slice(0, 2)).toEqual(['', '0']);
  });

  test('M_best moves when a replacement improves validation; the search can replace every layer', async () => {
    const result = await greedyReplacement(
      3,
      async (r) => 0.5 + (r.includes(1) ? 0.1 : 0) - 0.001 * r.length,
      () => 0,
    );
    expect(result.best.replaced).toEqual([1]);
    expect(result.mostLinear.replaced).toEqual([0, 1, 2]);
    expect(result.rounds.every((r) => r.accepted)).toBe(true);
  });

  test('ties go to the lower layer', async () => {
    const result = await greedyReplacement(
      3,
      async () => 1,
      () => 2,
    );
    expect(result.rounds).toHaveLength(1);
    expect(result.rounds[0]!.chosen).toBe(0);
    expect(result.mostLinear.replaced).toEqual([]);
  });
});

describe('replacement baselines', () => {
  test('uniform interleave spreads k layers evenly', () => {
    expect(uniformLayers(8, 2)).toEqual([2, 6]);
    expect(uniformLayers(12, 3)).toEqual([2, 6, 10]);
    expect(uniformLayers(4, 4)).toEqual([0, 1, 2, 3]);
    expect(uniformLayers(5, 0)).toEqual([]);
  });

  test('random draws k distinct sorted layers', () => {
    const random = new SeededRandom(3);
    for (let k = 0; k <= 6; k++) {
      const set = randomLayers(6, k, () => random.next());
      expect(set).toHaveLength(k);
      expect(new Set(set).size).toBe(k);
      expect([...set].sort((a, b) => a - b)).toEqual(set);
      expect(set.every((l) => l >= 0 && l < 6)).toBe(true);
    }
  });
});
