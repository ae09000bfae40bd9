/**
 * A pool of `GPUBuffer`s in size classes. Freed buffers go back to a free list
 * of their class and are handed out again, so a training step whose shapes
 * repeat allocates nothing after the first step.
 *
 * Size classes: at least 256 bytes, then 8 steps per power of two (at most
 * 12.5% waste). Classes never exceed `maxBytes` (the device's storage binding
 * limit), so every pooled buffer can be bound whole.
 *
 * Hand-out order is deterministic: each class hands out its free buffer that
 * was created first (lowest serial), not the one freed last. The free lists
 * are then sets, so a step that acquires and releases in the same order as
 * the previous one gets the same buffers even though tensors are freed in a
 * different order than they were made; with LIFO lists the order of the
 * frees leaked into the next step and the runtime's bind-group cache (keyed by
 * buffer identity) missed on most dispatches.
 */
export class BufferPool {
  private readonly free = new Map<number, FreeHeap>();
  /** Creation serial (the hand-out priority) and size of every buffer this pool made; reading `GPUBuffer.size` crosses into Dawn. */
  private readonly made = new WeakMap<GPUBuffer, { readonly serial: number; readonly size: number }>();
  private nextSerial = 0;
  private live = 0;
  private liveByteCount = 0;
  private pooled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly maxBytes: number,
    private readonly label: string,
  ) {}

  /** The byte size a request of `bytes` is rounded up to. */
  static sizeClass(bytes: number): number {
    if (bytes <= 256) return 256;
    const step = Math.max(256, 2 ** (Math.floor(Math.log2(bytes)) - 3));
    return Math.ceil(bytes / step) * step;
  }

  /** A buffer of at least `bytes` bytes: the oldest free one of its class, else a new one. */
  acquire(bytes: number): GPUBuffer {
    let size = BufferPool.sizeClass(bytes);
    if (size > this.maxBytes) size = Math.ceil(bytes / 16) * 16;
    if (size > this.maxBytes)
      throw new RangeError(
        `${this.label}: ${bytes} bytes exceed the device limit of ${this.maxBytes} bytes per buffer binding`,
      );
    let buffer = this.free.get(size)?.pop();
    if (buffer) this.pooled -= size;
    else {
      buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
      this.made.set(buffer, { serial: this.nextSerial++, size });
    }
    this.live++;
    this.liveByteCount += size;
    return buffer;
  }

  /** Returns a buffer handed out by `acquire`; commands already enqueued may still use it (stream order keeps that safe). */
  release(buffer: GPUBuffer): void {
    const info = this.made.get(buffer);
    if (!info) throw new RangeError(`${this.label}: released a buffer this pool did not make`);
    const { serial, size } = info;
    let heap = this.free.get(size);
    if (!heap) {
      heap = new FreeHeap();
      this.free.set(size, heap);
    }
    heap.push(buffer, serial);
    this.live--;
    this.liveByteCount -= size;
    this.pooled += size;
  }

  /** Destroys every free buffer. Callers flush pending commands first (they may reference them). */
  trim(): void {
    for (const heap of this.free.values()) for (const b of heap.drain()) b.destroy();
    this.free.clear();
    this.pooled = 0;
  }

  liveBuffers(): number {
    return this.live;
  }
  liveBytes(): number {
    return this.liveByteCount;
  }
  pooledBytes(): number {
    return this.pooled;
  }
}

/** Binary min-heap of buffers by serial, in two parallel arrays (no per-push allocation once grown). */
class FreeHeap {
  private readonly keys: number[] = [];
  private readonly items: GPUBuffer[] = [];

  push(item: GPUBuffer, key: number): void {
    const keys = this.keys;
    const items = this.items;
    let i = keys.length;
    keys.push(key);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    keys[i] = key;
    items[i] = item;
  }

  /** The item with the smallest key, or undefined when empty. */
  pop(): GPUBuffer | undefined {
    const keys = this.keys;
    const items = this.items;
    const n = keys.length;
    if (n === 0) return undefined;
    const top = items[0];
    const lastKey = keys.pop()!;
    const lastItem = items.pop()!;
    if (n > 1) {
      // Sift the last element down from the root.
      let i = 0;
      const size = n - 1;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && keys[child + 1]! < keys[child]!) child++;
        if (keys[child]! >= lastKey) break;
        keys[i] = keys[child]!;
        items[i] = items[child]!;
        i = child;
      }
      keys[i] = lastKey;
      items[i] = lastItem;
    }
    return top;
  }

  /** Empties the heap, returning its items. */
  drain(): GPUBuffer[] {
    const out = this.items.splice(0);
    this.keys.length = 0;
    return out;
  }
}
