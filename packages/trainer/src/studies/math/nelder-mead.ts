/** Result of a derivative-free minimisation. */
export interface Minimum {
  readonly x: readonly number[];
  readonly value: number;
  readonly iterations: number;
}

/**
 * Nelder–Mead simplex minimisation (standard coefficients). Derivative-free,
 * which suits Huber objectives (no second derivative at the kink) over a few
 * parameters. Stops when the simplex's values agree within `tolerance`.
 */
export const nelderMead = (
  f: (x: readonly number[]) => number,
  start: readonly number[],
  options: {
    readonly step?: readonly number[];
    readonly maxIterations?: number;
    readonly tolerance?: number;
  } = {},
): Minimum => {
  const n = start.length;
  const maxIterations = options.maxIterations ?? 2000 * n;
  const tolerance = options.tolerance ?? 1e-12;
  const evaluate = (x: number[]) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let simplex: Array<{ x: number[]; v: number }> = [{ x: [...start], v: evaluate([...start]) }];
  for (let i = 0; i < n; i++) {
    const x = [...start];
    x[i]! += options.step?.[i] ?? (Math.abs(x[i]!) > 1e-8 ? 0.1 * Math.abs(x[i]!) : 0.1);
    simplex.push({ x, v: evaluate(x) });
  }
  const combine = (a: number[], b: number[], t: number) => a.map((ai, i) => ai + t * (b[i]! - ai));
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    simplex.sort((p, q) => p.v - q.v);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.v - best.v) <= tolerance * (Math.abs(best.v) + tolerance)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j]! += simplex[i]!.x[j]! / n;
    const reflected = combine(centroid, worst.x, -1);
    const vr = evaluate(reflected);
    if (vr < best.v) {
      const expanded = combine(centroid, worst.x, -2);
      const ve = evaluate(expanded);
      simplex[n] = ve < vr ? { x: expanded, v: ve } : { x: reflected, v: vr };
    } else if (vr < simplex[n - 1]!.v) {
      simplex[n] = { x: reflected, v: vr };
    } else {
      const outside = vr < worst.v;
      const contracted = combine(centroid, outside ? reflected : worst.x, 0.5);
      const vc = evaluate(contracted);
      if (vc < (outside ? vr : worst.v)) simplex[n] = { x: contracted, v: vc };
      else
        simplex = simplex
          .map((p, i) => (i === 0 ? p : { x: combine(best.x, p.x, 0.5), v: Number.NaN }))
          .map((p) => (Number.isNaN(p.v) ? { x: p.x, v: evaluate(p.x) } : p));
    }
  }
  simplex.sort((p, q) => p.v - q.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v, iterations };
};
