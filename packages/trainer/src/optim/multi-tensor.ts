import type { GpuRuntime } from '@dynconv/tensor/node';

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
export function slotsFor(runtime: GpuRuntime, bindingsPerSlot: number, extra = 0): number {
  const limits = runtime.device.limits;
  // The uniform block takes one binding of the bind group.
  const byStorage = Math.floor((limits.maxStorageBuffersPerShaderStage - extra) / bindingsPerSlot);
  const byGroup = Math.floor((limits.maxBindingsPerBindGroup - 1 - extra) / bindingsPerSlot);
  return Math.max(1, Math.min(multiTensor.maxSlots, byStorage, byGroup));
}

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

/**
 * WGSL that finds the slot of linear workgroup `w` (the last slot whose
 * `first` workgroup is at most `w`) as `s`; `u.slots[k].first` must ascend.
 */
export const slotOfWorkgroup = (slots: number): string => /* wgsl */ `
  var s = 0u;
  for (var k = 1u; k < ${slots}u; k++) {
    if (w >= u.slots[k].first) { s = k; }
  }`;
