import { isTensor, type Tensor } from '@dynconv/tensor';

/**
 * Layers are plain objects: tensor fields are parameters (named like their
 * PyTorch/Hugging Face counterparts, hence `q_proj`, `static_w`), other fields
 * are static hyperparameters. These helpers walk such objects.
 */

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Array.isArray(v));

/**
 * Every tensor in `tree` keyed by its dotted path, e.g.
 * `namedParameters({ q_proj: { weight } }, 'self_attn')` → `self_attn.q_proj.weight`.
 * Arrays contribute their index (`layers.0.mlp...`). Insertion order follows the object.
 */
export function namedParameters(tree: unknown, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const walk = (v: unknown, path: string) => {
    if (isTensor(v)) {
      if (out.has(path)) throw new Error(`namedParameters: duplicate parameter name '${path}'`);
      out.set(path, v);
    } else if (isPlainObject(v))
      for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k);
  };
  walk(tree, prefix);
  return out;
}

/** Number of scalar parameters in `tree` (each tensor counted once even if shared). */
export const countParameters = (tree: unknown): number => {
  let n = 0;
  for (const t of new Set(namedParameters(tree).values())) n += t.size;
  return n;
};

/** Disposes every tensor in `tree` (shared tensors once). */
export const disposeParameters = (tree: unknown): void => {
  for (const t of new Set(namedParameters(tree).values())) t.dispose();
};
