import { type Tensor, tensor } from '@dynconv/tensor';
import type { SafetensorsEntry, SafetensorsValues } from './safetensors.js';

/**
 * Bridges between model parameters (named tensors on a backend) and
 * safetensors entries (host data). Names are the parameters' HF-style names.
 */

/** Reads every tensor back to the host as a safetensors entry (f32 → F32, f16 → F16, i32 → I32). */
export async function toSafetensorsEntries(
  parameters: ReadonlyMap<string, Tensor>,
): Promise<Map<string, SafetensorsEntry>> {
  const out = new Map<string, SafetensorsEntry>();
  for (const [name, t] of parameters) {
    const dtype = t.dtype === 'f16' ? 'F16' : t.dtype === 'i32' ? 'I32' : t.dtype === 'f32' ? 'F32' : null;
    if (!dtype)
      throw new Error(
        `toSafetensorsEntries: '${name}' has dtype ${t.dtype}, which has no safetensors mapping here`,
      );
    out.set(name, { dtype, shape: t.shape, data: await t.data() });
  }
  return out;
}

/**
 * Copies checkpoint values into existing parameters, in place (the model's
 * tensors keep their identity, so optimizers holding them stay valid).
 * Shapes must match. With `strict` (default) the names must match exactly;
 * otherwise missing/unexpected names are returned instead of thrown.
 */
export function loadParameters(
  parameters: ReadonlyMap<string, Tensor>,
  entries: ReadonlyMap<string, SafetensorsEntry<SafetensorsValues | ArrayLike<number>>>,
  options: { readonly strict?: boolean } = {},
): { missing: string[]; unexpected: string[] } {
  const missing = [...parameters.keys()].filter((n) => !entries.has(n));
  const unexpected = [...entries.keys()].filter((n) => !parameters.has(n));
  if ((options.strict ?? true) && (missing.length || unexpected.length))
    throw new Error(
      `loadParameters: checkpoint does not match the model` +
        (missing.length ? `; missing: ${missing.join(', ')}` : '') +
        (unexpected.length ? `; unexpected: ${unexpected.join(', ')}` : ''),
    );
  for (const [name, p] of parameters) {
    const e = entries.get(name);
    if (!e) continue;
    if (e.shape.length !== p.rank || e.shape.some((d, i) => d !== p.shape[i]))
      throw new Error(
        `loadParameters: '${name}' is [${e.shape.join(', ')}] in the checkpoint, [${p.shape.join(', ')}] in the model`,
      );
    const src = tensor(e.data, { shape: p.shape, dtype: p.dtype, backend: p.backend });
    p.backend.copy(src.view(), p.view());
    src.dispose();
  }
  return { missing, unexpected };
}
