import { expand, reshape, type Tensor } from '@dynconv/tensor';

/**
 * Repeats grouped projections for the heads that share them:
 * `[..., G, N]` → `[..., H, N]` where head h reads group ⌊h / (H/G)⌋
 * (Mamba-2's `ngroups`, GQA-style). Differentiable (the gradient sums over
 * the heads of a group).
 */
export function expandGroups(t: Tensor, heads: number): Tensor {
  const G = t.shape[t.rank - 2]!;
  if (G === heads) return t;
  const lead = t.shape.slice(0, -2);
  const N = t.shape[t.rank - 1]!;
  const grouped = reshape(t, [...lead, G, 1, N]);
  return reshape(expand(grouped, [...lead, G, heads / G, N]), [...lead, heads, N]);
}
