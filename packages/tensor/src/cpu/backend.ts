import type {
  Backend,
  BackendBuffer,
  BinaryOp,
  CopyRunsArgs,
  CrossEntropyArgs,
  CrossEntropyBackwardArgs,
  GatherArgs,
  NormArgs,
  NormBackwardArgs,
  RandomKind,
  ReduceOp,
  ScatterAddArgs,
  UnaryOp,
  View,
} from '../backend.js';
import { checkCopyRuns } from '../backend.js';
import { type DType, roundF16, type TypedArray } from '../dtype.js';
import { allocCpu, type CpuBuffer, cpuData, viewOffsets } from './buffer.js';
import * as ew from './elementwise.js';
import * as ix from './indexing.js';
import { matmul } from './matmul.js';
import * as nn from './nn.js';
import { random } from './random.js';
import { reduce } from './reduce.js';

export interface CpuBackendOptions {
  /** 'f64' stores float tensors in Float64Array: the mode for finite-difference gradient checks. */
  precision?: 'f32' | 'f64';
  /** Fill new buffers with NaN so reads of unwritten memory show (default: on under tests). */
  poison?: boolean;
}

const testMode = (): boolean =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[
    'DYNCONV_TEST'
  ] === '1';

/**
 * The reference backend: plain loops over typed arrays. Slow but simple and
 * exact enough to be the specification every GPU kernel is tested against.
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly supportsF16 = true;
  readonly precision: 'f32' | 'f64';
  private readonly poison: boolean;
  private live = new Set<CpuBuffer>();
  private bytes = 0;

  constructor(options: CpuBackendOptions = {}) {
    this.precision = options.precision ?? 'f32';
    this.poison = options.poison ?? testMode();
  }

  alloc(length: number, dtype: DType): BackendBuffer {
    const b = allocCpu(length, dtype, this.precision === 'f64');
    if (this.poison) {
      if (dtype === 'i32') b.data.fill(-0x7fffffff);
      else if (dtype === 'u32') b.data.fill(0xdeadbeef);
      else b.data.fill(Number.NaN);
    }
    this.live.add(b);
    this.bytes += b.data.byteLength;
    return b;
  }

  free(buffer: BackendBuffer): void {
    const b = buffer as CpuBuffer;
    if (this.live.delete(b)) this.bytes -= b.data.byteLength;
  }

  upload(data: ArrayLike<number>, dtype: DType): BackendBuffer {
    const b = this.alloc(data.length, dtype);
    const d = cpuData(b);
    if (dtype === 'f16') for (let i = 0; i < data.length; i++) d[i] = roundF16(data[i]!);
    else d.set(data as ArrayLike<number>);
    return b;
  }

  async read(view: View): Promise<TypedArray> {
    return this.readSync(view);
  }

  /** Synchronous read (CPU only). */
  readSync(view: View): TypedArray {
    const src = cpuData(view.buffer);
    const offs = viewOffsets(view);
    const out =
      view.dtype === 'i32'
        ? new Int32Array(offs.length)
        : view.dtype === 'u32'
          ? new Uint32Array(offs.length)
          : this.precision === 'f64'
            ? new Float64Array(offs.length)
            : new Float32Array(offs.length);
    for (let i = 0; i < offs.length; i++) out[i] = src[offs[i]!]!;
    return out;
  }

  async sync(): Promise<void> {}

  liveBuffers(): number {
    return this.live.size;
  }
  liveBytes(): number {
    return this.bytes;
  }

  fill(out: BackendBuffer, length: number, value: number): void {
    cpuData(out).fill(out.dtype === 'f16' ? roundF16(value) : value, 0, length);
  }
  arange(out: BackendBuffer, length: number, start: number, step: number): void {
    const d = cpuData(out);
    for (let i = 0; i < length; i++) d[i] = start + i * step;
  }
  random(
    out: BackendBuffer,
    length: number,
    kind: RandomKind,
    seed: readonly [number, number],
    offset: number,
  ): void {
    random(out, length, kind, seed, offset);
  }
  unary(op: UnaryOp, x: View, out: BackendBuffer, alpha?: number, beta?: number): void {
    ew.unary(op, x, out, alpha, beta);
  }
  binary(op: BinaryOp, a: View, b: View, out: BackendBuffer): void {
    ew.binary(op, a, b, out);
  }
  where(cond: View, a: View, b: View, out: BackendBuffer): void {
    ew.where(cond, a, b, out);
  }
  copy(src: View, dst: View): void {
    ew.copy(src, dst);
  }
  copyRuns(args: CopyRunsArgs): void {
    checkCopyRuns(args);
    const shared = cpuData(args.shared);
    for (const r of args.runs) {
      // One dtype throughout, so one typed-array class: `set` copies the values as they are.
      const mine = cpuData(r.buffer);
      if (args.direction === 'gather')
        shared.set(mine.subarray(r.offset, r.offset + r.length), r.sharedOffset);
      else mine.set(shared.subarray(r.sharedOffset, r.sharedOffset + r.length), r.offset);
    }
  }
  reduce(op: ReduceOp, x: View, reduceRank: number, out: BackendBuffer): void {
    reduce(op, x, reduceRank, out);
  }
  matmul(a: View, b: View, out: BackendBuffer): void {
    matmul(a, b, out);
  }
  softmax(x: BackendBuffer, rows: number, n: number, out: BackendBuffer, log: boolean): void {
    nn.softmax(x, rows, n, out, log);
  }
  softmaxBackward(
    y: BackendBuffer,
    dy: BackendBuffer,
    rows: number,
    n: number,
    dx: BackendBuffer,
    log: boolean,
  ): void {
    nn.softmaxBackward(y, dy, rows, n, dx, log);
  }
  crossEntropy(args: CrossEntropyArgs): void {
    nn.crossEntropy(args);
  }
  crossEntropyBackward(args: CrossEntropyBackwardArgs): void {
    nn.crossEntropyBackward(args);
  }
  norm(args: NormArgs): void {
    nn.norm(args);
  }
  normBackward(args: NormBackwardArgs): void {
    nn.normBackward(args);
  }
  gather(args: GatherArgs): void {
    ix.gather(args);
  }
  scatterAdd(args: ScatterAddArgs): void {
    ix.scatterAdd(args);
  }
  cumsum(
    x: BackendBuffer,
    outer: number,
    n: number,
    inner: number,
    reverse: boolean,
    out: BackendBuffer,
  ): void {
    ix.cumsum(x, outer, n, inner, reverse, out);
  }
  topk(
    x: BackendBuffer,
    rows: number,
    n: number,
    k: number,
    values: BackendBuffer,
    indices: BackendBuffer,
  ): void {
    ix.topk(x, rows, n, k, values, indices);
  }
}
