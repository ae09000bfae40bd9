import { GpuError } from '../errors.js';
import { BindGroupCache } from './bind-group-cache.js';
import { BufferPool } from './buffer-pool.js';
import { DispatchProfiler, type KernelTime } from './dispatch-profiler.js';

/**
 * One storage buffer of a dispatch. Bound whole at `@group(0) @binding(1 + i)`
 * (i = its position in `DispatchSpec.bindings`): `var<storage, read>` unless
 * `write` is set (`var<storage, read_write>`). A buffer that is written must
 * not appear twice in one dispatch (WebGPU forbids that aliasing).
 */
export interface StorageBinding {
  readonly buffer: GPUBuffer;
  readonly write?: boolean;
}

/**
 * Workgroup counts. A plain number is a 1D grid that the runtime folds into
 * 2D when it exceeds the per-dimension limit (65535): kernels must then read
 * their linear workgroup index as `wid.x + wid.y * nwg.x` (see
 * `linearWorkgroupIndex` in `wgsl.ts`) and bounds-check it, since the folded
 * grid can be slightly larger than asked. A tuple is used as given.
 */
export type Workgroups = number | readonly [number, number?, number?];

/** One compute dispatch; see {@link GpuRuntime.dispatch}. */
export interface DispatchSpec {
  /**
   * Names the compiled pipeline: the kernel and its compile-time parameters
   * only (dtypes, rank, variant, workgroup size), never sizes, so that a
   * training step compiles nothing after the first. Example:
   * `unary|op=silu|x=f32|out=f16|rank=2|v4`.
   */
  readonly pipelineKey: string;
  /** The WGSL source, called once per key. Entry point `main`. */
  readonly makeCode: () => string;
  /** Storage buffers, bound at bindings 1..n in this order. */
  readonly bindings: readonly StorageBinding[];
  /**
   * The uniform block, bound at `@group(0) @binding(0)` as `var<uniform>`
   * (a dynamic offset into the batch's uniform buffer). Build it with
   * `UniformStruct.pack`.
   */
  readonly uniforms: ArrayBufferView;
  readonly workgroups: Workgroups;
}

export interface GpuRuntimeOptions {
  /**
   * Fill every buffer handed out by {@link GpuRuntime.acquire} with NaN
   * (0x7fc00000) so that kernels reading unwritten memory show it. Default:
   * on when `process.env.DYNCONV_TEST === '1'` (browsers: off).
   */
  readonly poison?: boolean;
  /**
   * Dispatches per submitted command buffer before an automatic flush
   * (default 512): large enough to amortise a submit, small enough that the
   * GPU starts on a long step while the CPU is still recording it.
   */
  readonly maxBatchDispatches?: number;
}

/** Counters for tests and benchmarks. */
export interface RuntimeStats {
  readonly pipelineCompiles: number;
  readonly dispatches: number;
  /** Bind groups created (bind-group cache misses); flat after the first step of a repeated step. */
  readonly bindGroupsCreated: number;
  readonly submits: number;
  readonly liveBuffers: number;
  readonly liveBytes: number;
  readonly pooledBytes: number;
}

const POISON_F32 = 0x7fc00000;
const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const STAGING_USAGE = 0x1 | 0x8; // MAP_READ | COPY_DST
const UNIFORM_USAGE = 0x40 | 0x8; // UNIFORM | COPY_DST
const MAP_READ = 0x1;
const UNIFORM_CAPACITY = 1 << 20;

interface PipelineEntry {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** See {@link layoutCodeOf}. */
  readonly layoutCode: number;
}

/**
 * The storage-binding layout of a dispatch as a number: a leading 1, then one
 * bit per binding (1 = written). Cheaper per dispatch than building a string.
 */
const layoutCodeOf = (bindings: readonly StorageBinding[]): number => {
  let code = 1;
  for (let i = 0; i < bindings.length; i++) code = code * 2 + (bindings[i]!.write ? 1 : 0);
  return code;
};

/** `layoutCodeOf` spelled out, one letter per binding: r (read) or w (written). */
const layoutKeyOf = (code: number): string => {
  let key = '';
  for (let c = code; c > 1; c = Math.floor(c / 2)) key = (c % 2 === 1 ? 'w' : 'r') + key;
  return key;
};

const envPoisonDefault = (): boolean => {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.DYNCONV_TEST === '1';
};

/**
 * The WebGPU execution layer: pooled buffers, cached pipelines and batched
 * dispatches on one `GPUDevice`. Browser-safe (no Node imports).
 *
 * Work is recorded into one open command encoder and compute pass; it is
 * submitted (`flush`) only on read-back, `sync()`, host uploads (a
 * `queue.writeBuffer` would otherwise overtake recorded commands that use the
 * same pooled buffer) or when a batch is full. Each dispatch's uniforms go to
 * one host array per batch, uploaded with a single `writeBuffer` just before
 * the submit and bound at 256-byte aligned dynamic offsets. Bind groups are
 * cached by the buffers they bind (`BindGroupCache`); the pool hands a
 * repeated step the same buffers (`BufferPool`), so after the first step of a
 * training loop dispatches create no bind group.
 *
 * GPU errors (validation, out-of-memory, internal, device loss) do not throw
 * where they happen; they are collected and thrown as `GpuError` by the next
 * `sync()` or `read()`, naming the pipeline key when known.
 */
export class GpuRuntime {
  readonly device: GPUDevice;
  /** Whether acquired buffers are filled with NaN (see {@link GpuRuntimeOptions.poison}). */
  readonly poison: boolean;
  readonly maxWorkgroupsPerDimension: number;
  readonly maxStorageBindingBytes: number;
  readonly maxWorkgroupStorageBytes: number;
  readonly hasTimestamps: boolean;

  private readonly pool: BufferPool;
  private readonly stagingPool: BufferPool;
  /** Compiled pipelines by layout code, then pipeline key (no per-dispatch key concatenation). */
  private readonly pipelines = new Map<number, Map<string, PipelineEntry>>();
  private readonly layouts = new Map<number, { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly bindGroups: BindGroupCache;

  private readonly uniformAlign: number;
  private readonly uniformBuffer: GPUBuffer;
  private readonly uniformHost = new Uint8Array(UNIFORM_CAPACITY);
  private readonly uniformWords = new Uint32Array(this.uniformHost.buffer);
  /** setBindGroup's dynamic offsets: Dawn's Node binding takes a plain array faster than a typed one. */
  private readonly dynamicOffset: number[] = [0];
  /** Pipeline last set on the open pass (a pass keeps it between dispatches). */
  private lastPipeline: GPUComputePipeline | null = null;
  private uniformUsed = 0;
  /** See {@link GpuRuntimeOptions.maxBatchDispatches}. */
  readonly maxBatchDispatches: number;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchDispatches = 0;
  private timing: { querySet: GPUQuerySet; flushesAtStart: number } | null = null;
  private profiler: DispatchProfiler | null = null;

  private errors: string[] = [];
  private pendingChecks: Promise<void>[] = [];
  private destroyed = false;

  private compiles = 0;
  private dispatchCount = 0;
  private submitCount = 0;
  private flushCount = 0;

  constructor(device: GPUDevice, options: GpuRuntimeOptions = {}) {
    this.device = device;
    this.poison = options.poison ?? envPoisonDefault();
    this.maxBatchDispatches = options.maxBatchDispatches ?? 512;
    const limits = device.limits;
    this.maxWorkgroupsPerDimension = limits.maxComputeWorkgroupsPerDimension;
    this.maxStorageBindingBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    this.maxWorkgroupStorageBytes = limits.maxComputeWorkgroupStorageSize;
    this.uniformAlign = Math.max(256, limits.minUniformBufferOffsetAlignment);
    this.hasTimestamps = device.features.has('timestamp-query');
    this.pool = new BufferPool(device, STORAGE_USAGE, this.maxStorageBindingBytes, 'dynconv');
    this.stagingPool = new BufferPool(device, STAGING_USAGE, limits.maxBufferSize, 'dynconv-staging');
    this.uniformBuffer = device.createBuffer({
      size: UNIFORM_CAPACITY,
      usage: UNIFORM_USAGE,
      label: 'dynconv-uniforms',
    });
    this.bindGroups = new BindGroupCache(device, this.uniformBuffer);
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.errors.push(`${errorKind(error)}: ${error.message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.errors.push(`device lost (${info.reason}): ${info.message}`);
    });
  }

  // ---------------------------------------------------------------- buffers

  /**
   * A pooled storage buffer (STORAGE | COPY_SRC | COPY_DST) of at least
   * `bytes` bytes. With poisoning on, it is filled with `poisonWord` (default
   * the f32 NaN 0x7fc00000) by a dispatch recorded in the stream.
   */
  acquire(bytes: number, poisonWord = POISON_F32): GPUBuffer {
    const buffer = this.pool.acquire(bytes);
    if (this.poison) this.fillWords(buffer, buffer.size / 4, poisonWord);
    return buffer;
  }

  /** Returns a buffer from {@link acquire}; enqueued commands that use it still run first. */
  release(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  /** Buffers handed out and not released. */
  liveBuffers(): number {
    return this.pool.liveBuffers();
  }
  /** Bytes of the buffers handed out (their size classes). */
  liveBytes(): number {
    return this.pool.liveBytes();
  }
  /** Bytes held in free lists. */
  pooledBytes(): number {
    return this.pool.pooledBytes() + this.stagingPool.pooledBytes();
  }

  /** Destroys all pooled free buffers (submits pending work first). */
  trim(): void {
    this.flush();
    this.pool.trim();
    this.stagingPool.trim();
    this.bindGroups.clear();
  }

  /**
   * Writes host data into `buffer` at `byteOffset`. Recorded work is
   * submitted first so the write lands after it in queue order.
   */
  write(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    if (this.encoder) this.flush();
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    if (bytes.byteLength > 0) this.device.queue.writeBuffer(buffer, byteOffset, bytes);
  }

  /**
   * Reads `byteLength` bytes at `byteOffset` (a multiple of 4) of `buffer`
   * after all recorded work, through a pooled MAP_READ staging buffer.
   * Throws `GpuError` for errors collected so far.
   */
  async read(buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    if (byteOffset % 4 !== 0) throw new RangeError(`read: byte offset ${byteOffset} is not a multiple of 4`);
    if (byteOffset + size > buffer.size)
      throw new RangeError(`read: ${size} bytes at ${byteOffset} exceed the buffer's ${buffer.size} bytes`);
    const staging = this.stagingPool.acquire(size);
    this.flush((encoder) => encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, size));
    let out: ArrayBuffer;
    try {
      await staging.mapAsync(MAP_READ, 0, size);
      out = staging.getMappedRange(0, size).slice(0, byteLength);
      staging.unmap();
    } catch (cause) {
      await this.throwCollectedErrors();
      throw new GpuError(`read-back failed: ${(cause as Error).message}`);
    } finally {
      this.stagingPool.release(staging);
    }
    await this.throwCollectedErrors();
    return out;
  }

  /** Submits recorded work, waits for the GPU, then throws collected errors as `GpuError`. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwCollectedErrors();
  }

  // --------------------------------------------------------------- dispatch

  /**
   * Records one compute dispatch into the open batch.
   *
   * Binding conventions (all in `@group(0)`): `@binding(0)` is
   * `var<uniform> u: Params` (the bytes of `spec.uniforms`, at most 64 KiB);
   * `@binding(1 + i)` is `spec.bindings[i]`, declared
   * `var<storage, read>` or, when `write`, `var<storage, read_write>`, with
   * any element type (`array<f32>`, `array<vec4<f16>>`, ...). The entry point
   * is `main`. The pipeline is compiled on first use of `pipelineKey` and
   * cached; compile errors surface at the next `sync()`/`read()`.
   */
  dispatch(spec: DispatchSpec): void {
    const w = spec.workgroups;
    // The common 1D grid within the limit skips `grid` (and its array).
    const [x, y, z] = typeof w === 'number' && w <= this.maxWorkgroupsPerDimension ? [w, 1, 1] : this.grid(w);
    if (x === 0 || y === 0 || z === 0) return;
    checkAliasing(spec);
    const layoutCode = layoutCodeOf(spec.bindings);
    const entry = this.pipeline(spec.pipelineKey, layoutCode, spec.makeCode);

    const slot = Math.ceil(Math.max(spec.uniforms.byteLength, 16) / this.uniformAlign) * this.uniformAlign;
    if (slot > 65536)
      throw new RangeError(`${spec.pipelineKey}: uniform block of ${spec.uniforms.byteLength} bytes`);
    // (A full profile batch flushes here too: after the uniforms are placed, a flush would lose them.)
    if (
      this.batchDispatches >= this.maxBatchDispatches ||
      this.uniformUsed + slot > UNIFORM_CAPACITY ||
      this.profiler?.full
    )
      this.flush();

    const offset = this.uniformUsed;
    const u = spec.uniforms;
    if (u instanceof Uint32Array) this.uniformWords.set(u, offset / 4);
    else this.uniformHost.set(new Uint8Array(u.buffer, u.byteOffset, u.byteLength), offset);
    this.uniformUsed += slot;

    const bindGroup = this.bindGroups.get(entry.layout, layoutCode, slot, spec.bindings);
    if (this.profiler) this.endPass();
    const pass = this.openPass(this.profiler?.nextPass(spec.pipelineKey));
    if (this.lastPipeline !== entry.pipeline) {
      pass.setPipeline(entry.pipeline);
      this.lastPipeline = entry.pipeline;
    }
    this.dynamicOffset[0] = offset;
    pass.setBindGroup(0, bindGroup, this.dynamicOffset);
    // Fewer arguments through Dawn's Node binding cost less.
    if (y === 1 && z === 1) pass.dispatchWorkgroups(x);
    else pass.dispatchWorkgroups(x, y, z);
    this.batchDispatches++;
    this.dispatchCount++;
    if (this.profiler) this.endPass();
  }

  /**
   * Submits the open batch (if any). `extra` appends non-compute commands
   * (copies) after it in the same command buffer.
   */
  flush(extra?: (encoder: GPUCommandEncoder) => void): void {
    if (!this.encoder && !extra) return;
    const encoder = this.encoder ?? this.device.createCommandEncoder();
    this.endPass();
    this.profiler?.resolveInto(encoder);
    if (this.timing) {
      encoder.resolveQuerySet(this.timing.querySet, 0, 2, this.timingResolve!, 0);
    }
    extra?.(encoder);
    const commands = encoder.finish();
    if (this.uniformUsed > 0)
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformHost, 0, this.uniformUsed);
    this.device.queue.submit([commands]);
    this.encoder = null;
    this.uniformUsed = 0;
    this.batchDispatches = 0;
    this.submitCount++;
    this.flushCount++;
  }

  /**
   * GPU time in milliseconds of the dispatches that `work` records, from
   * timestamp queries around one compute pass; null without the
   * `timestamp-query` feature or when `work` caused a flush (split passes).
   */
  async timeGpu(work: () => void): Promise<number | null> {
    if (this.profiler) throw new Error('timeGpu: a profile is running (stopProfile first)');
    if (!this.hasTimestamps) {
      work();
      return null;
    }
    this.flush();
    this.timingQuerySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 });
    this.timingResolve ??= this.device.createBuffer({ size: 256, usage: 0x200 | 0x4 }); // QUERY_RESOLVE | COPY_SRC
    this.timing = { querySet: this.timingQuerySet, flushesAtStart: this.flushCount };
    work();
    const split = this.flushCount !== this.timing.flushesAtStart;
    const resolve = this.timingResolve;
    if (split) {
      this.timing = null;
      await this.sync();
      return null;
    }
    this.openPass(); // an empty `work` still gets its pass
    const staging = this.stagingPool.acquire(16);
    this.flush((encoder) => encoder.copyBufferToBuffer(resolve, 0, staging, 0, 16));
    this.timing = null;
    await staging.mapAsync(MAP_READ, 0, 16);
    const stamps = new BigUint64Array(staging.getMappedRange(0, 16).slice(0));
    staging.unmap();
    this.stagingPool.release(staging);
    await this.throwCollectedErrors();
    return Number(stamps[1]! - stamps[0]!) / 1e6;
  }
  private timingQuerySet: GPUQuerySet | undefined;
  private timingResolve: GPUBuffer | undefined;

  /**
   * Starts timing every dispatch on the GPU (each gets its own compute pass
   * with timestamps; needs `timestamp-query`). Returns false without it.
   * Stop with {@link stopProfile}. Not combinable with {@link timeGpu}.
   */
  startProfile(): boolean {
    if (!this.hasTimestamps) return false;
    if (this.profiler || this.timing) throw new Error('startProfile: already profiling or timing');
    this.flush();
    this.profiler = new DispatchProfiler(this.device);
    return true;
  }

  /** GPU milliseconds and dispatch count per pipeline key since {@link startProfile} (waits for the GPU). */
  async stopProfile(): Promise<Map<string, KernelTime>> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('stopProfile: not profiling');
    this.flush();
    this.profiler = null;
    return profiler.finish();
  }

  /** Counters: pipelines compiled, dispatches, submits, buffers. */
  stats(): RuntimeStats {
    return {
      pipelineCompiles: this.compiles,
      dispatches: this.dispatchCount,
      bindGroupsCreated: this.bindGroups.created,
      submits: this.submitCount,
      liveBuffers: this.pool.liveBuffers(),
      liveBytes: this.pool.liveBytes(),
      pooledBytes: this.pooledBytes(),
    };
  }

  /** Keys of the compiled pipelines (`pipelineKey#layout`), for tests and debugging. */
  pipelineKeys(): string[] {
    const keys: string[] = [];
    for (const [code, byKey] of this.pipelines)
      for (const key of byKey.keys()) keys.push(`${key}#${layoutKeyOf(code)}`);
    return keys;
  }

  /** Pipelines compiled so far (a cache miss each). */
  get pipelineCompiles(): number {
    return this.compiles;
  }

  /** Releases pooled and internal buffers; the device itself stays with its owner. */
  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.pool.trim();
    this.stagingPool.trim();
    this.uniformBuffer.destroy();
    this.timingResolve?.destroy();
    this.timingQuerySet?.destroy();
    this.bindGroups.clear();
  }

  /**
   * A 1D grid of `count` workgroups, folded into 2D when it exceeds the
   * per-dimension limit (see {@link Workgroups}).
   */
  grid(workgroups: Workgroups): [number, number, number] {
    const max = this.maxWorkgroupsPerDimension;
    if (typeof workgroups === 'number') {
      if (workgroups <= max) return [workgroups, 1, 1];
      const y = Math.ceil(workgroups / max);
      if (y > max) throw new RangeError(`grid of ${workgroups} workgroups is too large`);
      return [Math.ceil(workgroups / y), y, 1];
    }
    const [x, y = 1, z = 1] = workgroups;
    if (x > max || y > max || z > max)
      throw new RangeError(`grid [${x}, ${y}, ${z}] exceeds ${max} per dimension`);
    return [x, y, z];
  }

  // ---------------------------------------------------------------- private

  private fillWords(buffer: GPUBuffer, words: number, value: number): void {
    this.dispatch({
      pipelineKey: 'runtime.fill-words',
      makeCode: fillWordsCode,
      bindings: [{ buffer, write: true }],
      uniforms: new Uint32Array([words, value >>> 0, 0, 0]),
      workgroups: Math.ceil(words / 256),
    });
  }

  private endPass(): void {
    if (!this.pass) return;
    this.pass.end();
    this.pass = null;
    this.lastPipeline = null;
  }

  private openPass(profiled?: GPUComputePassDescriptor): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    const descriptor: GPUComputePassDescriptor = profiled
      ? profiled
      : this.timing
        ? {
            timestampWrites: {
              querySet: this.timing.querySet,
              beginningOfPassWriteIndex: 0,
              endOfPassWriteIndex: 1,
            },
          }
        : {};
    this.pass = this.encoder.beginComputePass(descriptor);
    return this.pass;
  }

  private pipeline(key: string, layoutCode: number, makeCode: () => string): PipelineEntry {
    let byKey = this.pipelines.get(layoutCode);
    const cached = byKey?.get(key);
    if (cached) return cached;
    const layouts = this.layout(layoutCode);
    const device = this.device;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let code: string;
    try {
      code = makeCode();
    } catch (error) {
      void device.popErrorScope();
      void device.popErrorScope();
      void device.popErrorScope();
      throw error;
    }
    const module = device.createShaderModule({ code, label: key });
    const pipeline = device.createComputePipeline({
      label: key,
      layout: layouts.pipeline,
      compute: { module, entryPoint: 'main' },
    });
    const scopes = [device.popErrorScope(), device.popErrorScope(), device.popErrorScope()];
    this.pendingChecks.push(
      Promise.all(scopes).then(async (found) => {
        const errors = found.filter((e): e is GPUError => e !== null);
        if (errors.length === 0) return;
        const info = await module.getCompilationInfo().catch(() => null);
        const lines = info?.messages
          .filter((m) => m.type === 'error')
          .map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`);
        this.errors.push(
          `pipeline ${key}: ${errors.map((e) => `${errorKind(e)}: ${e.message}`).join('; ')}` +
            (lines && lines.length > 0 ? `\n${lines.join('\n')}` : ''),
        );
      }),
    );
    const entry = { pipeline, layout: layouts.bind, layoutCode };
    if (!byKey) {
      byKey = new Map();
      this.pipelines.set(layoutCode, byKey);
    }
    byKey.set(key, entry);
    this.compiles++;
    return entry;
  }

  private layout(layoutCode: number): { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let entry = this.layouts.get(layoutCode);
    if (entry) return entry;
    const layoutKey = layoutKeyOf(layoutCode);
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: 0x4, buffer: { type: 'uniform', hasDynamicOffset: true } },
    ];
    for (let i = 0; i < layoutKey.length; i++)
      entries.push({
        binding: i + 1,
        visibility: 0x4, // COMPUTE
        buffer: { type: layoutKey[i] === 'w' ? 'storage' : 'read-only-storage' },
      });
    const bind = this.device.createBindGroupLayout({ entries, label: `layout:${layoutKey}` });
    entry = { bind, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [bind] }) };
    this.layouts.set(layoutCode, entry);
    return entry;
  }

  private async throwCollectedErrors(): Promise<void> {
    while (this.pendingChecks.length > 0) {
      const checks = this.pendingChecks;
      this.pendingChecks = [];
      await Promise.all(checks);
    }
    if (this.errors.length === 0) return;
    const message = this.errors.join('\n');
    this.errors = [];
    throw new GpuError(message);
  }
}

const errorKind = (error: GPUError): string =>
  error.constructor?.name && error.constructor.name !== 'Object' ? error.constructor.name : 'GPUError';

const checkAliasing = (spec: DispatchSpec): void => {
  const { bindings } = spec;
  for (let i = 0; i < bindings.length; i++)
    for (let j = i + 1; j < bindings.length; j++)
      if (bindings[i]!.buffer === bindings[j]!.buffer && (bindings[i]!.write || bindings[j]!.write))
        throw new GpuError(
          `${spec.pipelineKey}: bindings ${i + 1} and ${j + 1} alias one buffer that is written`,
        );
};

const fillWordsCode = (): string => `
struct Params { n: u32, value: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < u.n) { out[i] = u.value; }
}`;
