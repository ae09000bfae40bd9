import type {
  Backend,
  BackendBuffer,
  BinaryOp,
  CopyRun,
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
import { byteSize, type DType, f16BitsToF32, f32ToF16Bits, type TypedArray } from '../dtype.js';
import { GpuError, TensorError } from '../errors.js';
import { gpuBufferOf, WebGPUBuffer } from './buffer.js';
import { launchCopyRuns } from './kernels/copy-runs.js';
import { cumsumUniforms, cumsumWgsl } from './kernels/cumsum.wgsl.js';
import { launchElementwise, type StridedOperand } from './kernels/elementwise.js';
import type { LoadAs } from './kernels/elementwise.wgsl.js';
import { binaryF32, binaryInt, unaryF32, unaryInt } from './kernels/elementwise-ops.js';
import {
  arangeUniforms,
  arangeWgsl,
  fillUniforms,
  fillWgsl,
  randomUniforms,
  randomWgsl,
} from './kernels/fill.wgsl.js';
import { gatherWgsl, indexUniforms, SCATTER_ROWS, scatterAddWgsl } from './kernels/gather.wgsl.js';
import { launchMatmul, type MatmulTuning } from './kernels/matmul.js';
import {
  COLUMN_SUM_CHUNK,
  COLUMN_SUM_COLS,
  type NormBackwardParams,
  normBackwardBlock,
  normBackwardKey,
  normBackwardWgsl,
  normColumnSumKey,
  normColumnSumWgsl,
  normKey,
  normLayout,
  normWgsl,
} from './kernels/norm.wgsl.js';
import { launchReduce } from './kernels/reduce.js';
import { rowWorkgroup } from './kernels/row.wgsl.js';
import {
  crossEntropyBackwardWgsl,
  crossEntropyWgsl,
  rowUniforms,
  softmaxBackwardWgsl,
  softmaxWgsl,
} from './kernels/softmax.wgsl.js';
import { TOPK_SORT_MAX, topkUniforms, topkWgsl } from './kernels/topk.wgsl.js';
import { isTransposeCopy, launchTransposeCopy } from './kernels/transpose.wgsl.js';
import { GpuRuntime, type GpuRuntimeOptions, type StorageBinding } from './runtime.js';
import { accessMode, rowMajorStrides } from './strides.js';
import { computeType, isIntDType } from './wgsl.js';

export interface WebGPUBackendOptions extends GpuRuntimeOptions {
  /** Called by `destroy()` after the runtime is released (e.g. to destroy a device the caller created). */
  readonly onDestroy?: () => void;
}

/** Poison patterns: NaN for floats (two f16 NaNs per word), a large sentinel for integers. */
const poisonWord = (dtype: DType): number => (dtype === 'f16' ? 0x7e007e00 : 0x7fc00000);

const f32Bits = new Uint32Array(new Float32Array(1).buffer);
const f32View = new Float32Array(f32Bits.buffer);
const bitsOfF32 = (v: number): number => {
  f32View[0] = v;
  return f32Bits[0]!;
};

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * The WebGPU implementation of {@link Backend}: every op records dispatches
 * on a {@link GpuRuntime}; only `read` and `sync` wait. f16 data is stored
 * as f16 and computed in f32 inside kernels.
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly supportsF16: boolean;
  readonly runtime: GpuRuntime;
  /** Kernel choices that benchmarks may override. */
  readonly tuning: { matmul: MatmulTuning } = { matmul: {} };
  private live = 0;
  private liveByteCount = 0;
  private readonly onDestroy: (() => void) | undefined;

  constructor(device: GPUDevice, options: WebGPUBackendOptions = {}) {
    this.runtime = new GpuRuntime(device, options);
    this.supportsF16 = device.features.has('shader-f16');
    this.onDestroy = options.onDestroy;
  }

  // ------------------------------------------------------------- storage

  alloc(length: number, dtype: DType): WebGPUBuffer {
    if (dtype === 'f16' && !this.supportsF16)
      throw new TensorError('alloc', 'f16 needs the shader-f16 feature');
    if (!Number.isInteger(length) || length < 0) throw new TensorError('alloc', `invalid length ${length}`);
    const bytes = length * byteSize(dtype);
    const buffer = new WebGPUBuffer(
      this.runtime.acquire(Math.max(bytes, 4), poisonWord(dtype)),
      length,
      dtype,
    );
    this.live++;
    this.liveByteCount += bytes;
    return buffer;
  }

  free(buffer: BackendBuffer): void {
    const gpu = gpuBufferOf(buffer);
    (buffer as WebGPUBuffer).released = true;
    this.runtime.release(gpu);
    this.live--;
    this.liveByteCount -= buffer.length * byteSize(buffer.dtype);
  }

  upload(data: ArrayLike<number>, dtype: DType): WebGPUBuffer {
    const buffer = this.alloc(data.length, dtype);
    let host: ArrayBufferView;
    if (dtype === 'f16') {
      const halves = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) halves[i] = f32ToF16Bits(data[i]!);
      host = halves;
    } else
      host =
        dtype === 'f32'
          ? Float32Array.from(data)
          : dtype === 'i32'
            ? Int32Array.from(data)
            : Uint32Array.from(data);
    this.runtime.write(buffer.gpu, 0, host);
    return buffer;
  }

  async read(view: View): Promise<TypedArray> {
    const n = numel(view.shape);
    const { dtype } = view;
    if (n === 0)
      return dtype === 'i32' ? new Int32Array(0) : dtype === 'u32' ? new Uint32Array(0) : new Float32Array(0);
    const size = byteSize(dtype);
    const contiguous = n === 1 || accessMode(view.shape, view.strides) === 'c';
    let bytes: ArrayBuffer;
    if (contiguous && (view.offset * size) % 4 === 0) {
      bytes = await this.runtime.read(gpuBufferOf(view.buffer), view.offset * size, n * size);
    } else {
      const tmp = this.alloc(n, dtype);
      try {
        this.copy(view, {
          buffer: tmp,
          dtype,
          shape: view.shape,
          strides: rowMajorStrides(view.shape),
          offset: 0,
        });
        bytes = await this.runtime.read(tmp.gpu, 0, n * size);
      } finally {
        this.free(tmp);
      }
    }
    if (dtype === 'f32') return new Float32Array(bytes, 0, n);
    if (dtype === 'i32') return new Int32Array(bytes, 0, n);
    if (dtype === 'u32') return new Uint32Array(bytes, 0, n);
    const halves = new Uint16Array(bytes, 0, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(halves[i]!);
    return out;
  }

  sync(): Promise<void> {
    return this.runtime.sync();
  }
  liveBuffers(): number {
    return this.live;
  }
  liveBytes(): number {
    return this.liveByteCount;
  }

  /** Releases the runtime's buffers (and calls `onDestroy`). The backend is unusable afterwards. */
  destroy(): void {
    this.runtime.destroy();
    this.onDestroy?.();
  }

  // -------------------------------------------------------- generators

  fill(out: BackendBuffer, length: number, value: number): void {
    const dtype = out.dtype;
    const bits =
      dtype === 'f32' || dtype === 'f16' ? bitsOfF32(value) : dtype === 'i32' ? value | 0 : value >>> 0;
    this.runtime.dispatch({
      pipelineKey: `fill|${dtype}`,
      makeCode: () => fillWgsl(dtype),
      bindings: [{ buffer: gpuBufferOf(out), write: true }],
      uniforms: fillUniforms.pack({ n: length, bits }),
      workgroups: Math.ceil(length / 256),
    });
  }

  arange(out: BackendBuffer, length: number, start: number, step: number): void {
    const dtype = out.dtype;
    const intMath = isIntDType(dtype) && Number.isInteger(start) && Number.isInteger(step);
    this.runtime.dispatch({
      pipelineKey: `arange|${dtype}|${intMath ? 'int' : 'float'}`,
      makeCode: () => arangeWgsl(dtype, intMath),
      bindings: [{ buffer: gpuBufferOf(out), write: true }],
      uniforms: arangeUniforms.pack({ n: length, start, step, istart: start | 0, istep: step | 0 }),
      workgroups: Math.ceil(length / 256),
    });
  }

  random(
    out: BackendBuffer,
    length: number,
    kind: RandomKind,
    seed: readonly [number, number],
    offset: number,
  ): void {
    const dtype = out.dtype;
    this.runtime.dispatch({
      pipelineKey: `random|${kind}|${dtype}`,
      makeCode: () => randomWgsl(dtype, kind),
      bindings: [{ buffer: gpuBufferOf(out), write: true }],
      uniforms: randomUniforms.pack({
        n: length,
        key0: seed[0],
        key1: seed[1],
        ctrLo: offset >>> 0,
        ctrHi: Math.floor(offset / 4294967296) >>> 0,
      }),
      workgroups: Math.ceil(Math.ceil(length / 4) / 256),
    });
  }

  // -------------------------------------------------------- elementwise

  unary(op: UnaryOp, x: View, out: BackendBuffer, alpha = 0, beta = 0): void {
    const intOp = isIntDType(x.dtype) ? unaryInt[op] : undefined;
    const ct = intOp ? (x.dtype as 'i32' | 'u32') : 'f32';
    this.elementwise(out, x.shape, [x], (dst) =>
      launchElementwise(this.runtime, {
        op: `${op}`,
        shape: x.shape,
        inputs: [operandAs(x, ct)],
        out: dst,
        body: ([v]) => (intOp ? intOp(v!, ct as 'i32' | 'u32') : unaryF32[op](v!)),
        resultType: ct,
        alpha,
        beta,
      }),
    );
  }

  binary(op: BinaryOp, a: View, b: View, out: BackendBuffer): void {
    const shape = a.shape;
    const ct = computeType(a.dtype, b.dtype);
    const intOp = ct !== 'f32' ? binaryInt[op] : undefined;
    const t = intOp ? ct : 'f32';
    this.elementwise(out, shape, [a, b], (dst) =>
      launchElementwise(this.runtime, {
        op,
        shape,
        inputs: [operandAs(a, t), operandAs(b, t)],
        out: dst,
        body: ([va, vb]) => (intOp ? intOp(va!, vb!, t as 'i32' | 'u32') : binaryF32[op](va!, vb!)),
        resultType: t,
      }),
    );
  }

  where(cond: View, a: View, b: View, out: BackendBuffer): void {
    const ct = computeType(a.dtype, b.dtype);
    const zero = `${cond.dtype}(0)`;
    this.elementwise(out, a.shape, [cond, a, b], (dst) =>
      launchElementwise(this.runtime, {
        op: 'where',
        shape: a.shape,
        inputs: [operandAs(cond, 'raw'), operandAs(a, ct), operandAs(b, ct)],
        out: dst,
        body: ([c, va, vb]) => `select(${vb}, ${va}, ${c} != ${zero})`,
        resultType: ct,
      }),
    );
  }

  copy(src: View, dst: View): void {
    if (src.buffer === dst.buffer) {
      // WebGPU cannot bind one buffer as input and output: go through a temporary.
      const tmp = this.alloc(numel(src.shape), src.dtype);
      const tmpView: View = {
        buffer: tmp,
        dtype: src.dtype,
        shape: src.shape,
        strides: rowMajorStrides(src.shape),
        offset: 0,
      };
      this.copy(src, tmpView);
      this.copy(tmpView, dst);
      this.free(tmp);
      return;
    }
    if (isTransposeCopy(src, dst)) {
      launchTransposeCopy(this.runtime, src, dst);
      return;
    }
    launchElementwise(this.runtime, {
      op: 'copy',
      shape: src.shape,
      inputs: [operandAs(src, 'raw')],
      out: operand(dst),
      body: ([v]) => v!,
      resultType: src.dtype,
    });
  }

  copyRuns(args: CopyRunsArgs): void {
    checkCopyRuns(args);
    const { direction, shared } = args;
    const bound: CopyRun[] = [];
    const written = new Set<BackendBuffer>();
    for (const r of args.runs) {
      if (r.length === 0) continue;
      // A written buffer may be bound once per dispatch: a run that would bind one again is a `copy` of its own.
      if (r.buffer === shared || (direction === 'scatter' && written.has(r.buffer))) {
        const run = { dtype: r.buffer.dtype, shape: [r.length], strides: [1] };
        const mine: View = { ...run, buffer: r.buffer, offset: r.offset };
        const theirs: View = { ...run, buffer: shared, offset: r.sharedOffset };
        if (direction === 'gather') this.copy(mine, theirs);
        else this.copy(theirs, mine);
        continue;
      }
      if (direction === 'scatter') written.add(r.buffer);
      bound.push(r);
    }
    launchCopyRuns(this.runtime, {
      direction,
      dtype: shared.dtype,
      shared: gpuBufferOf(shared),
      runs: bound.map((r) => ({ ...r, buffer: gpuBufferOf(r.buffer) })),
      label: args.label ?? 'copyRuns',
    });
  }

  /** Runs `launch` into `out`, or into a temporary copied to `out` when `out` is also an input. */
  private elementwise(
    out: BackendBuffer,
    shape: readonly number[],
    inputs: readonly View[],
    launch: (dst: StridedOperand) => void,
  ): void {
    const strides = rowMajorStrides(shape);
    let aliased = false;
    for (let i = 0; i < inputs.length; i++) if (inputs[i]!.buffer === out) aliased = true;
    if (!aliased) {
      launch({ buffer: gpuBufferOf(out), dtype: out.dtype, strides, offset: 0 });
      return;
    }
    const tmp = this.alloc(numel(shape), out.dtype);
    launch({ buffer: tmp.gpu, dtype: out.dtype, strides, offset: 0 });
    this.copy(
      { buffer: tmp, dtype: out.dtype, shape, strides, offset: 0 },
      { buffer: out, dtype: out.dtype, shape, strides, offset: 0 },
    );
    this.free(tmp);
  }

  // ---------------------------------------------------------- reductions

  reduce(op: ReduceOp, x: View, reduceRank: number, out: BackendBuffer): void {
    launchReduce(
      this.runtime,
      op,
      { ...operand(x), shape: x.shape },
      reduceRank,
      gpuBufferOf(out),
      out.dtype,
    );
  }

  matmul(a: View, b: View, out: BackendBuffer): void {
    if (a.shape.length !== 3 || b.shape.length !== 3)
      throw new TensorError('matmul', 'backend matmul takes [batch, m, k] and [batch, k, n] views');
    launchMatmul(
      this.runtime,
      {
        ...operand(a),
        shape: a.shape as [number, number, number],
        strides: a.strides as [number, number, number],
      },
      {
        ...operand(b),
        shape: b.shape as [number, number, number],
        strides: b.strides as [number, number, number],
      },
      gpuBufferOf(out),
      out.dtype,
      this.tuning.matmul,
    );
  }

  // ---------------------------------------------------------- row kernels

  softmax(x: BackendBuffer, rows: number, n: number, out: BackendBuffer, log: boolean): void {
    const p = { x: x.dtype, out: out.dtype, log, wg: rowWorkgroup(n) };
    this.rows(
      `softmax|${p.x}>${p.out}|${log ? 'log' : 'exp'}|wg${p.wg}`,
      () => softmaxWgsl(p),
      rows,
      n,
      [x],
      [out],
    );
  }

  softmaxBackward(
    y: BackendBuffer,
    dy: BackendBuffer,
    rows: number,
    n: number,
    dx: BackendBuffer,
    log: boolean,
  ): void {
    const p = { y: y.dtype, dy: dy.dtype, dx: dx.dtype, log, wg: rowWorkgroup(n) };
    this.rows(
      `softmaxbwd|${p.y},${p.dy}>${p.dx}|${log ? 'log' : 'exp'}|wg${p.wg}`,
      () => softmaxBackwardWgsl(p),
      rows,
      n,
      [y, dy],
      [dx],
    );
  }

  crossEntropy(args: CrossEntropyArgs): void {
    const { logits, targets, rows, n, ignoreIndex, losses, lse } = args;
    const p = { x: logits.dtype, wg: rowWorkgroup(n) };
    this.rows(`xent|${p.x}|wg${p.wg}`, () => crossEntropyWgsl(p), rows, n, [logits, targets], [losses, lse], {
      ignore: ignoreIndex,
    });
  }

  crossEntropyBackward(args: CrossEntropyBackwardArgs): void {
    const { logits, targets, lse, g, rows, n, ignoreIndex, dlogits } = args;
    const p = { x: logits.dtype, g: g.dtype, dx: dlogits.dtype, wg: rowWorkgroup(n) };
    this.rows(
      `xentbwd|${p.x},${p.g}>${p.dx}|wg${p.wg}`,
      () => crossEntropyBackwardWgsl(p),
      rows,
      n,
      [logits, targets, lse, g],
      [dlogits],
      { ignore: ignoreIndex },
    );
  }

  norm(args: NormArgs): void {
    const { kind, x, weight, bias, rows, n, eps, out, mean, rstd, residual, sum } = args;
    if (kind === 'layer' && !mean) throw new TensorError('norm', 'layer norm needs a mean buffer');
    if (!residual !== !sum) throw new TensorError('norm', 'residual and sum come together');
    const p = {
      kind,
      x: x.dtype,
      out: out.dtype,
      weight: weight?.dtype ?? null,
      bias: bias?.dtype ?? null,
      residual: residual?.dtype ?? null,
      ...normLayout(n),
    };
    const inputs = [x, ...(residual ? [residual] : []), ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    const outputs = [out, ...(sum ? [sum] : []), ...(kind === 'layer' && mean ? [mean] : []), rstd];
    this.rows(normKey(p), () => normWgsl(p), rows, n, inputs, outputs, { eps });
  }

  normBackward(args: NormBackwardArgs): void {
    const { kind, x, weight, mean, rstd, dy, rows, n, dx, dresidual, dweight, dbias } = args;
    if (kind === 'layer' && !mean) throw new TensorError('normBackward', 'layer norm needs the mean buffer');
    const partials: NormBackwardParams['partials'] =
      dweight && dbias ? 'wb' : dweight ? 'w' : dbias ? 'b' : null;
    const block = partials ? normBackwardBlock(rows) : 1;
    const p = {
      kind,
      x: x.dtype,
      dy: dy.dtype,
      dx: dx.dtype,
      weight: weight?.dtype ?? null,
      dresidual: dresidual?.dtype ?? null,
      partials,
      block,
      ...normLayout(n),
    };
    const inputs = [
      x,
      ...(weight ? [weight] : []),
      ...(kind === 'layer' && mean ? [mean] : []),
      rstd,
      dy,
      ...(dresidual ? [dresidual] : []),
    ];
    if (!partials) {
      this.rows(normBackwardKey(p), () => normBackwardWgsl(p), rows, n, inputs, [dx]);
      return;
    }
    // Parameter gradients: per-block partials from the dx kernel, then column sums.
    const blocks = Math.max(1, Math.ceil(rows / block));
    const sums = [dweight, dbias].filter((d): d is BackendBuffer => !!d);
    const parts = sums.map(() => this.alloc(blocks * n, 'f32'));
    this.runtime.dispatch({
      pipelineKey: normBackwardKey(p),
      makeCode: () => normBackwardWgsl(p),
      bindings: [...inputs, dx, ...parts].map((b, i) => ({
        buffer: gpuBufferOf(b),
        ...(i >= inputs.length ? { write: true } : {}),
      })),
      uniforms: rowUniforms.pack({ rows, n, ignore: -1, eps: 0 }),
      workgroups: rows === 0 ? 0 : blocks,
    });
    sums.forEach((out, i) => {
      this.columnSum(parts[i]!, rows === 0 ? 0 : blocks, n, out);
    });
  }

  /**
   * out = the column sums of `[rows, n]` f32 partials (freed here): chunks of
   * COLUMN_SUM_CHUNK rows summed in parallel, repeated until one row is left.
   */
  private columnSum(partials: BackendBuffer, rows: number, n: number, out: BackendBuffer): void {
    let src = partials;
    let left = rows;
    for (;;) {
      const chunks = Math.max(1, Math.ceil(left / COLUMN_SUM_CHUNK));
      const dst = chunks === 1 ? out : this.alloc(chunks * n, 'f32');
      this.runtime.dispatch({
        pipelineKey: normColumnSumKey(dst.dtype),
        makeCode: () => normColumnSumWgsl(dst.dtype),
        bindings: [{ buffer: gpuBufferOf(src) }, { buffer: gpuBufferOf(dst), write: true }],
        uniforms: rowUniforms.pack({ rows: left, n, ignore: -1, eps: 0 }),
        workgroups: chunks * Math.ceil(n / COLUMN_SUM_COLS),
      });
      this.free(src);
      if (dst === out) return;
      src = dst;
      left = chunks;
    }
  }

  /** One workgroup per row of `[rows, n]`; inputs then outputs bound in order. */
  private rows(
    key: string,
    makeCode: () => string,
    rows: number,
    n: number,
    inputs: readonly BackendBuffer[],
    outputs: readonly BackendBuffer[],
    extra: { ignore?: number; eps?: number } = {},
  ): void {
    const bindings: StorageBinding[] = [
      ...inputs.map((b) => ({ buffer: gpuBufferOf(b) })),
      ...outputs.map((b) => ({ buffer: gpuBufferOf(b), write: true })),
    ];
    this.runtime.dispatch({
      pipelineKey: key,
      makeCode,
      bindings,
      uniforms: rowUniforms.pack({ rows, n, ignore: extra.ignore ?? -1, eps: extra.eps ?? 0 }),
      workgroups: rows,
    });
  }

  // ------------------------------------------------------------ indexing

  gather(args: GatherArgs): void {
    const { x, idx, outer, size, inner, count, out } = args;
    const total = outer * count * inner;
    if (x.dtype !== out.dtype) throw new TensorError('gather', `dtypes ${x.dtype} and ${out.dtype} differ`);
    this.runtime.dispatch({
      pipelineKey: `gather|${x.dtype}`,
      makeCode: () => gatherWgsl(x.dtype),
      bindings: [
        { buffer: gpuBufferOf(x) },
        { buffer: gpuBufferOf(idx) },
        { buffer: gpuBufferOf(out), write: true },
      ],
      uniforms: indexUniforms.pack({ outer, size, inner, count, total }),
      workgroups: Math.ceil(total / 256),
    });
  }

  scatterAdd(args: ScatterAddArgs): void {
    const { src, idx, outer, count, inner, size, out } = args;
    if (src.dtype !== out.dtype)
      throw new TensorError('scatterAdd', `dtypes ${src.dtype} and ${out.dtype} differ`);
    const total = outer * size * inner;
    // Many rows (an embedding's vocabulary): scan the index list once per SCATTER_ROWS rows.
    const mode = inner >= 64 ? (size >= SCATTER_ROWS ? 'rows' : 'workgroup') : 'thread';
    this.runtime.dispatch({
      pipelineKey: `scatteradd|${src.dtype}|${mode}`,
      makeCode: () => scatterAddWgsl(src.dtype, mode),
      bindings: [
        { buffer: gpuBufferOf(src) },
        { buffer: gpuBufferOf(idx) },
        { buffer: gpuBufferOf(out), write: true },
      ],
      uniforms: indexUniforms.pack({ outer, size, inner, count, total }),
      workgroups:
        mode === 'thread'
          ? Math.ceil(total / 256)
          : mode === 'rows'
            ? outer * Math.ceil(size / SCATTER_ROWS) * Math.ceil(inner / 256)
            : outer * size * Math.ceil(inner / 1024),
    });
  }

  cumsum(
    x: BackendBuffer,
    outer: number,
    n: number,
    inner: number,
    reverse: boolean,
    out: BackendBuffer,
  ): void {
    const mode = inner === 1 && n > 64 ? 'scan' : 'serial';
    const p = { x: x.dtype, out: out.dtype, mode, reverse } as const;
    this.runtime.dispatch({
      pipelineKey: `cumsum|${p.x}>${p.out}|${mode}|${reverse ? 'rev' : 'fwd'}`,
      makeCode: () => cumsumWgsl(p),
      bindings: [{ buffer: gpuBufferOf(x) }, { buffer: gpuBufferOf(out), write: true }],
      uniforms: cumsumUniforms.pack({ outer, n, inner }),
      workgroups: mode === 'scan' ? outer : Math.ceil((outer * inner) / 256),
    });
  }

  topk(
    x: BackendBuffer,
    rows: number,
    n: number,
    k: number,
    values: BackendBuffer,
    indices: BackendBuffer,
  ): void {
    if (k > n) throw new TensorError('topk', `k = ${k} exceeds the row length ${n}`);
    if (k === 0 || rows === 0) return;
    const mode = n <= TOPK_SORT_MAX ? 'sort' : 'select';
    const p = { x: x.dtype, values: values.dtype, mode } as const;
    this.runtime.dispatch({
      pipelineKey: `topk|${p.x}>${p.values}|${mode}`,
      makeCode: () => topkWgsl(p),
      bindings: [
        { buffer: gpuBufferOf(x) },
        { buffer: gpuBufferOf(values), write: true },
        { buffer: gpuBufferOf(indices), write: true },
      ],
      uniforms: topkUniforms.pack({ rows, n, k }),
      workgroups: rows,
    });
  }
}

const operand = (v: View): StridedOperand => {
  if (v.shape.length !== v.strides.length) throw new GpuError('view shape and strides differ in rank');
  return { buffer: gpuBufferOf(v.buffer), dtype: v.dtype, strides: v.strides, offset: v.offset };
};

/** An elementwise input: {@link operand} plus the type it is loaded as, in one object. */
const operandAs = (v: View, loadAs: LoadAs): StridedOperand & { readonly loadAs: LoadAs } => {
  if (v.shape.length !== v.strides.length) throw new GpuError('view shape and strides differ in rank');
  return { buffer: gpuBufferOf(v.buffer), dtype: v.dtype, strides: v.strides, offset: v.offset, loadAs };
};

/**
 * Whether `backend` runs matmuls with f32 operands rounded to f16 for tensor
 * cores (a WebGPU backend's `tuning.matmul.reducedPrecision`, the mixed
 * precision mode): layers and kernels pick their mixed-precision paths by it.
 */
export const usesReducedPrecision = (backend: Backend): boolean =>
  backend instanceof WebGPUBackend && backend.tuning.matmul.reducedPrecision === true;
