/** GPU time of one pipeline key over a profiled stretch. */
export interface KernelTime {
  readonly dispatches: number;
  /** Sum of the dispatches' GPU times, milliseconds. */
  readonly ms: number;
}

const MAP_READ = 0x1;
const QUERY_RESOLVE = 0x200;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;

/**
 * Per-dispatch GPU timestamps for {@link GpuRuntime.startProfile}: the runtime
 * gives every dispatch its own compute pass whose begin/end timestamps land
 * in this query set, resolves them at each flush and keeps the copies until
 * {@link finish}. Why per pass: WebGPU only writes timestamps at pass
 * boundaries. The pass-per-dispatch mode changes host cost and adds a little
 * GPU time per dispatch, so use it to find where the time goes, not to time
 * the whole step.
 */
export class DispatchProfiler {
  /** Dispatches one batch can time (the query set holds two stamps each). */
  readonly capacity: number;
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private keys: string[] = [];
  private readonly pending: { staging: GPUBuffer; keys: string[] }[] = [];

  constructor(
    private readonly device: GPUDevice,
    capacity = 2048,
  ) {
    this.capacity = capacity;
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({ size: 16 * capacity, usage: QUERY_RESOLVE | COPY_SRC });
  }

  /** Whether the batch has room for another timed dispatch. */
  get full(): boolean {
    return this.keys.length >= this.capacity;
  }

  /** Pass descriptor timing the next dispatch, recorded under `key`. */
  nextPass(key: string): GPUComputePassDescriptor {
    const i = this.keys.length;
    this.keys.push(key);
    return {
      timestampWrites: {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    };
  }

  /** Appends the resolve of this batch's stamps to `encoder` (call before finishing it). */
  resolveInto(encoder: GPUCommandEncoder): void {
    const n = this.keys.length;
    if (n === 0) return;
    const staging = this.device.createBuffer({ size: 16 * n, usage: MAP_READ | COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, 16 * n);
    this.pending.push({ staging, keys: this.keys });
    this.keys = [];
  }

  /** Reads every resolved batch (after their submits) and sums the times by key; releases the GPU objects. */
  async finish(): Promise<Map<string, KernelTime>> {
    const byKey = new Map<string, { dispatches: number; ms: number }>();
    for (const { staging, keys } of this.pending) {
      await staging.mapAsync(MAP_READ);
      const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      keys.forEach((key, i) => {
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        const entry = byKey.get(key) ?? { dispatches: 0, ms: 0 };
        entry.dispatches++;
        entry.ms += ns / 1e6;
        byKey.set(key, entry);
      });
    }
    this.pending.length = 0;
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    return byKey;
  }
}
