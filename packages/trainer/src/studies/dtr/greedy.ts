/** One round of the greedy search: every remaining layer tried, the best kept (or not). */
export interface GreedyRound {
  /** Layers already linear when the round started. */
  readonly replacedBefore: readonly number[];
  /** Validation score with each candidate layer additionally replaced. */
  readonly candidates: ReadonlyArray<{ readonly layer: number; readonly score: number }>;
  readonly chosen: number;
  readonly score: number;
  /** P* ≥ P_min: the layer stays linear and the search continues. */
  readonly accepted: boolean;
}

export interface GreedyResult {
  readonly baseScore: number;
  readonly minScore: number;
  /** Highest validation score seen (M_best). */
  readonly best: { readonly replaced: readonly number[]; readonly score: number };
  /** Most linear layers with score ≥ P_min (M_opt). */
  readonly mostLinear: { readonly replaced: readonly number[]; readonly score: number };
  readonly rounds: readonly GreedyRound[];
  /** Validation passes spent. */
  readonly evaluations: number;
}

/**
 * Greedy validation-driven replacement, exactly as method.md §3.2: from the
 * full model, each round scores every still-full layer swapped for its
 * linear replacement, takes the best; it becomes M_best if it does not lower
 * the best score so far, and the swap is kept while the score stays ≥ P_min,
 * else the search stops. Ties go to the lower layer index.
 */
export const greedyReplacement = async (
  layers: number,
  score: (replaced: readonly number[]) => Promise<number>,
  minScoreOf: (baseScore: number) => number,
): Promise<GreedyResult> => {
  const baseScore = await score([]);
  const minScore = minScoreOf(baseScore);
  let evaluations = 1;
  let current: number[] = [];
  let best = { replaced: [] as number[], score: baseScore };
  let mostLinear = { replaced: [] as number[], score: baseScore };
  const rounds: GreedyRound[] = [];
  while (current.length < layers) {
    const candidates: { layer: number; score: number }[] = [];
    for (let layer = 0; layer < layers; layer++) {
      if (current.includes(layer)) continue;
      candidates.push({ layer, score: await score([...current, layer].sort((a, b) => a - b)) });
      evaluations++;
    }
    const top = candidates.reduce((a, b) => (b.score > a.score ? b : a));
    const next = [...current, top.layer].sort((a, b) => a - b);
    if (top.score >= best.score) best = { replaced: next, score: top.score };
    const accepted = top.score >= minScore;
    rounds.push({ replacedBefore: current, candidates, chosen: top.layer, score: top.score, accepted });
    if (!accepted) break;
    current = next;
    mostLinear = { replaced: current, score: top.score };
  }
  return { baseScore, minScore, best, mostLinear, rounds, evaluations };
};

/** k layers spread evenly over L (the uniform-interleaving baseline), e.g. k=2 of 8 → [2, 6]. */
export const uniformLayers = (layers: number, k: number): number[] =>
  k <= 0
    ? []
    : [
        ...new Set(
          Array.from({ length: k }, (_, j) => Math.min(layers - 1, Math.floor(((j + 0.5) * layers) / k))),
        ),
      ];

/** k distinct layers drawn uniformly (the random-replacement baseline). */
export const randomLayers = (layers: number, k: number, next: () => number): number[] => {
  const pool = Array.from({ length: layers }, (_, i) => i);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
};
