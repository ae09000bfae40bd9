import type { GpuRuntime } from './runtime.js';

/**
 * Kernels that take several tensors in one dispatch (the fused optimizer,
 * batched copies): slot k owns the workgroups [first_k, first_{k+1}), and
 * since WGSL cannot index bindings, the kernel holds one `switch` case per slot.
 */

/**
 * Slots one dispatch may take on `runtime` for a kernel that binds
 * `bindingsPerSlot` storage buffers per slot plus `extra` shared ones: as many
 * as the device's storage-binding limits allow, at most `cap`, at least 1.
 */
export function slotsPerDispatch(
  runtime: GpuRuntime,
  bindingsPerSlot: number,
  extra: number,
  cap: number,
): number {
  const limits = runtime.device.limits;
  // The uniform block takes one binding of the bind group.
  const byStorage = Math.floor((limits.maxStorageBuffersPerShaderStage - extra) / bindingsPerSlot);
  const byGroup = Math.floor((limits.maxBindingsPerBindGroup - 1 - extra) / bindingsPerSlot);
  return Math.max(1, Math.min(cap, byStorage, byGroup));
}

/**
 * WGSL that finds the slot of linear workgroup `w` (the last slot whose
 * `first` workgroup is at most `w`) as `s`; `${table}[k].first` must ascend.
 */
export const slotOfWorkgroup = (slots: number, table = 'u.slots'): string => /* wgsl */ `
  var s = 0u;
  for (var k = 1u; k < ${slots}u; k++) {
    if (w >= ${table}[k].first) { s = k; }
  }`;
