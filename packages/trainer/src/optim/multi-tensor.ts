import { type GpuRuntime, slotsPerDispatch } from '@dynconv/tensor';

/**
 * How many tensors one multi-tensor optimizer dispatch may take at most
 * (fused AdamW, fused sum of squares). 1 turns batching off: one dispatch per
 * tensor, as before (the baseline of the e2e measurement). The env
 * `DYNCONV_OPTIM_SLOTS` sets it at load; default 16 (WGSL cannot index
 * bindings, so the generated kernels hold one branch per slot).
 */
export const multiTensor = {
  maxSlots: Number.parseInt(
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
      ?.DYNCONV_OPTIM_SLOTS ?? '16',
    10,
  ),
};

/**
 * Tensors per dispatch on `runtime` for a kernel that binds
 * `bindingsPerSlot` storage buffers per tensor plus `extra` shared ones: as
 * many as the device's storage-binding limits allow, at most
 * {@link multiTensor}`.maxSlots`, at least 1.
 */
export const slotsFor = (runtime: GpuRuntime, bindingsPerSlot: number, extra = 0): number =>
  slotsPerDispatch(runtime, bindingsPerSlot, extra, multiTensor.maxSlots);

/**
 * `items` cut into consecutive chunks of at most `slots`, a new chunk also
 * starting where a buffer of `distinct(item)` was already bound in the open
 * one (WebGPU forbids binding a written buffer twice in one dispatch).
 */
export function chunks<T>(
  items: readonly T[],
  slots: number,
  distinct: (item: T) => readonly GPUBuffer[],
): T[][] {
  const out: T[][] = [];
  let open: T[] = [];
  let seen = new Set<GPUBuffer>();
  for (const item of items) {
    const buffers = distinct(item);
    if (open.length === slots || buffers.some((b) => seen.has(b))) {
      out.push(open);
      open = [];
      seen = new Set();
    }
    open.push(item);
    for (const b of buffers) seen.add(b);
  }
  if (open.length > 0) out.push(open);
  return out;
}
