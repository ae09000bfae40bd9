import type { StorageBinding } from './runtime.js';

/** One cached bind group and what it binds (compared on lookup: the hash only picks the bucket). */
interface Entry {
  readonly layoutCode: number;
  readonly slot: number;
  readonly buffers: readonly GPUBuffer[];
  readonly group: GPUBindGroup;
  /** Next entry with the same hash (collisions chain). */
  next: Entry | undefined;
}

/**
 * Bind groups by (layout, uniform slot size, storage buffers), for
 * {@link GpuRuntime.dispatch}. A training step that repeats gets the same
 * pooled buffers (see `BufferPool`), so after the first step every dispatch
 * should hit and `createBindGroup` (≈ 10 µs on Dawn's Node binding) is not
 * called.
 *
 * The lookup allocates nothing: a numeric hash of per-buffer serials picks a
 * bucket and the entry's buffers are compared by identity. Eviction is by
 * generation: entries land in `current`; when it holds `generationSize`
 * entries it becomes `previous` (the older one is dropped) and hits in
 * `previous` move back. Everything used within the last `generationSize`
 * creations stays, so a step of fewer distinct groups never thrashes (the
 * old cache cleared itself at 8192 entries, re-creating a whole step's worth
 * right after).
 */
export class BindGroupCache {
  private current = new Map<number, Entry>();
  private previous = new Map<number, Entry>();
  private currentCount = 0;
  private readonly serials = new WeakMap<GPUBuffer, number>();
  private nextSerial = 1;
  private createdCount = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly uniformBuffer: GPUBuffer,
    private readonly generationSize = 8192,
  ) {}

  /** Bind groups created so far (cache misses). */
  get created(): number {
    return this.createdCount;
  }

  /**
   * The bind group of `layout` (identified by `layoutCode`) binding a `slot`-byte
   * window of the uniform buffer at binding 0 and `bindings` at 1..n.
   */
  get(
    layout: GPUBindGroupLayout,
    layoutCode: number,
    slot: number,
    bindings: readonly StorageBinding[],
  ): GPUBindGroup {
    let h = Math.imul(layoutCode, 0x9e3779b1) ^ slot;
    for (let i = 0; i < bindings.length; i++) h = Math.imul(h ^ this.serial(bindings[i]!.buffer), 0x85ebca6b);
    h = (h ^ (h >>> 15)) & 0x3fffffff; // a small-integer key keeps Map lookups on the fast path

    const hit = find(this.current.get(h), layoutCode, slot, bindings);
    if (hit) return hit.group;
    const old = find(this.previous.get(h), layoutCode, slot, bindings);
    if (old) {
      this.insert(h, { ...old, next: undefined });
      return old.group;
    }
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.uniformBuffer, offset: 0, size: slot } },
    ];
    const buffers: GPUBuffer[] = [];
    for (let i = 0; i < bindings.length; i++) {
      const buffer = bindings[i]!.buffer;
      buffers.push(buffer);
      entries.push({ binding: i + 1, resource: { buffer } });
    }
    const group = this.device.createBindGroup({ layout, entries });
    this.createdCount++;
    this.insert(h, { layoutCode, slot, buffers, group, next: undefined });
    return group;
  }

  /** Drops every entry (e.g. before pooled buffers are destroyed). */
  clear(): void {
    this.current = new Map();
    this.previous = new Map();
    this.currentCount = 0;
  }

  private insert(h: number, entry: Entry): void {
    if (this.currentCount >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
      this.currentCount = 0;
    }
    entry.next = this.current.get(h);
    this.current.set(h, entry);
    this.currentCount++;
  }

  private serial(buffer: GPUBuffer): number {
    let s = this.serials.get(buffer);
    if (s === undefined) {
      s = this.nextSerial++;
      this.serials.set(buffer, s);
    }
    return s;
  }
}

const find = (
  entry: Entry | undefined,
  layoutCode: number,
  slot: number,
  bindings: readonly StorageBinding[],
): Entry | undefined => {
  for (let e = entry; e; e = e.next) {
    if (e.layoutCode !== layoutCode || e.slot !== slot || e.buffers.length !== bindings.length) continue;
    let same = true;
    for (let i = 0; i < bindings.length && same; i++) same = e.buffers[i] === bindings[i]!.buffer;
    if (same) return e;
  }
  return undefined;
};
