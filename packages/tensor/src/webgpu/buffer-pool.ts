/**
 * A pool of `GPUBuffer`s in size classes. Freed buffers go back to a free list
 * of their class and are handed out again, so a training step whose shapes
 * repeat allocates nothing after the first step.
 *
 * Size classes: at least 256 bytes, then 8 steps per power of two (at most
 * 12.5% waste). Classes never exceed `maxBytes` (the device's storage binding
 * limit), so every pooled buffer can be bound whole.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
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

  /** A buffer of at least `bytes` bytes; pooled if one is free, else newly created. */
  acquire(bytes: number): GPUBuffer {
    let size = BufferPool.sizeClass(bytes);
    if (size > this.maxBytes) size = Math.ceil(bytes / 16) * 16;
    if (size > this.maxBytes)
      throw new RangeError(
        `${this.label}: ${bytes} bytes exceed the device limit of ${this.maxBytes} bytes per buffer binding`,
      );
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) this.pooled -= size;
    else buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
    this.live++;
    this.liveByteCount += size;
    return buffer;
  }

  /** Returns a buffer handed out by `acquire`; commands already enqueued may still use it (stream order keeps that safe). */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    const list = this.free.get(size);
    if (list) list.push(buffer);
    else this.free.set(size, [buffer]);
    this.live--;
    this.liveByteCount -= size;
    this.pooled += size;
  }

  /** Destroys every free buffer. Callers flush pending commands first (they may reference them). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
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
