import { keep, type Tensor } from '@dynconv/tensor';
import { type ShortConv, shortConv, shortConvStep } from './short-conv.js';

/**
 * How a sublayer runs: over whole sequences (training, scoring), or as a
 * decode step that continues from per-stream caches.
 */
export type SequenceMode =
  | { readonly kind: 'sequence'; readonly docStart?: Tensor }
  | {
      readonly kind: 'step';
      /** Absolute position of the first new token. */
      readonly position: number;
      /** Caches by name (e.g. `q_conv`, `k`, `v`), as produced by the previous step or init. */
      readonly cache: ReadonlyMap<string, Tensor>;
      /** Where the sublayer writes its new caches (same names); use `setCache`. */
      readonly next: Map<string, Tensor>;
    };

/** Records a new cache tensor in step mode. It leaves every scope: the decode state owns it. */
export function setCache(mode: SequenceMode & { kind: 'step' }, name: string, t: Tensor): void {
  mode.next.get(name)?.dispose();
  mode.next.set(name, keep(t));
}

/** Runs an optional short conv on a projected stream in either mode, updating the `name` cache in step mode. */
export function convStream(
  name: string,
  conv: ShortConv | undefined,
  x: Tensor,
  z: Tensor | undefined,
  mode: SequenceMode,
): Tensor {
  if (!conv) return x;
  const zOpt = z ? { z } : {};
  if (mode.kind === 'sequence')
    return shortConv(conv, x, { ...zOpt, ...(mode.docStart ? { docStart: mode.docStart } : {}) });
  const { y, cache } = shortConvStep(conv, x, mode.cache.get(name) ?? null, zOpt);
  if (cache) setCache(mode, name, cache);
  return y;
}
