import type { Tensor } from '@dynconv/tensor';

/** Parameters that share weight-decay settings. */
export interface ParamGroup {
  readonly name: 'decay' | 'no_decay';
  readonly weightDecay: number;
  readonly params: readonly string[];
}

/**
 * Splits parameters into a decayed and a non-decayed group. No decay for the
 * model's own `noDecay` names (norms, biases, DSC filters), for every rank-0/1
 * parameter (norm weights and biases in any plugin), and for names matching an
 * extra pattern from the config.
 */
export function paramGroups(
  parameters: ReadonlyMap<string, Tensor>,
  modelNoDecay: ReadonlySet<string>,
  weightDecay: number,
  extraNoDecay: readonly string[] = [],
): ParamGroup[] {
  const patterns = extraNoDecay.map((p) => new RegExp(p));
  const decay: string[] = [];
  const noDecay: string[] = [];
  for (const [name, p] of parameters) {
    const exempt = modelNoDecay.has(name) || p.rank <= 1 || patterns.some((re) => re.test(name));
    (exempt ? noDecay : decay).push(name);
  }
  return [
    { name: 'decay', weightDecay, params: decay },
    { name: 'no_decay', weightDecay: 0, params: noDecay },
  ];
}
