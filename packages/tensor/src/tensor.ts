import type { GradNode } from './autograd.js';
import { backward } from './autograd.js';
import type { Backend, View } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { TensorError } from './errors.js';
import * as ops from './ops/index.js';
import { currentScope, registerTensorCheck } from './scope.js';
import { contiguousStrides, isContiguous, numel } from './shape.js';
import type { Storage } from './storage.js';

type Scalar = number;
type Operand = Tensor | Scalar;

/**
 * An n-dimensional array on a backend (CPU or WebGPU): a strided view onto
 * reference-counted storage, with an optional gradient tape entry.
 *
 * Tensors are owned by the innermost open scope (`tidy`, `tensorScope`) or,
 * outside any scope, by the caller: call `dispose()` (or `using`).
 */
export class Tensor implements Disposable {
  /** Gradient accumulated by `backward()` (leaves that require gradients only). */
  grad: Tensor | null = null;
  private _requiresGrad = false;
  private _gradFn: { node: GradNode; index: number } | null = null;
  private _disposed = false;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly strides: readonly number[] = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    currentScope()?.track(this);
  }

  get backend(): Backend {
    return this.storage.backend;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  get disposed(): boolean {
    return this._disposed;
  }
  get isContiguous(): boolean {
    return this.offset === 0 && isContiguous(this.shape, this.strides);
  }
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  /** @internal */
  get gradFn(): { node: GradNode; index: number } | null {
    return this._gradFn;
  }

  /** The backend-level view of this tensor (for kernels). */
  view(): View {
    this.assertAlive('view');
    return {
      buffer: this.storage.buffer,
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      offset: this.offset,
    };
  }

  /** Marks a leaf tensor as a parameter whose gradient `backward()` accumulates. Returns this. */
  requireGrad(flag = true): this {
    if (this._gradFn) throw new TensorError('requireGrad', 'only leaf tensors can be marked (use detach())');
    if (flag && this.dtype !== 'f32' && this.dtype !== 'f16')
      throw new TensorError('requireGrad', `dtype ${this.dtype} cannot have gradients`);
    this._requiresGrad = flag;
    return this;
  }

  /** @internal A new handle on the same storage and layout, without graph. */
  share(): Tensor {
    this.assertAlive('share');
    return new Tensor(this.storage.retain(), this.shape, this.dtype, this.strides, this.offset);
  }

  /** A handle on the same data that is cut off from the gradient tape. */
  detach(): Tensor {
    return this.share();
  }

  /** @internal */
  attachGrad(node: GradNode, index: number): void {
    this._gradFn = { node, index };
    this._requiresGrad = true;
    node.refs++;
  }

  /** @internal */
  detachGrad(): void {
    if (this._gradFn) {
      const { node } = this._gradFn;
      this._gradFn = null;
      node.unref();
    }
  }

  /** @internal */
  setGrad(g: Tensor | null): void {
    this.grad = g;
  }

  /** Backpropagates from this tensor (a scalar unless `grad` is given). */
  backward(grad?: Tensor): void {
    backward(this, grad);
  }

  /** Releases this handle's storage reference (and its gradient). Safe to call twice. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.detachGrad();
    this.storage.release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Clears the accumulated gradient. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** @internal */
  assertAlive(op: string): void {
    if (this._disposed || this.storage.released) throw new TensorError(op, 'tensor was disposed');
  }

  /** Reads the data as a contiguous host array (waits for the GPU). */
  async data(): Promise<TypedArray> {
    this.assertAlive('data');
    return this.backend.read(this.view());
  }

  /** Reads the data as a nested-free plain array of numbers. */
  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new TensorError('item', `tensor has ${this.size} elements, not 1`);
    return (await this.data())[0]!;
  }

  onesLike(): Tensor {
    return ops.full(this.shape, 1, { dtype: this.dtype, backend: this.backend });
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.backend.name})`;
  }

  // Elementwise
  add(b: Operand): Tensor {
    return ops.add(this, b);
  }
  sub(b: Operand): Tensor {
    return ops.sub(this, b);
  }
  mul(b: Operand): Tensor {
    return ops.mul(this, b);
  }
  div(b: Operand): Tensor {
    return ops.div(this, b);
  }
  pow(b: Operand): Tensor {
    return ops.pow(this, b);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  rsqrt(): Tensor {
    return ops.rsqrt(this);
  }
  square(): Tensor {
    return ops.square(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  silu(): Tensor {
    return ops.silu(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return ops.gelu(this, approximate);
  }
  softplus(): Tensor {
    return ops.softplus(this);
  }
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }

  // Reductions
  sum(axes?: number | readonly number[], keepDims = false): Tensor {
    return ops.sum(this, axes, keepDims);
  }
  mean(axes?: number | readonly number[], keepDims = false): Tensor {
    return ops.mean(this, axes, keepDims);
  }
  max(axes?: number | readonly number[], keepDims = false): Tensor {
    return ops.max(this, axes, keepDims);
  }
  min(axes?: number | readonly number[], keepDims = false): Tensor {
    return ops.min(this, axes, keepDims);
  }
  argmax(axis = -1, keepDims = false): Tensor {
    return ops.argmax(this, axis, keepDims);
  }
  logsumexp(axes?: number | readonly number[], keepDims = false): Tensor {
    return ops.logsumexp(this, axes, keepDims);
  }

  // Linear algebra and nn
  matmul(b: Tensor): Tensor {
    return ops.matmul(this, b);
  }
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }

  // Views
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  permute(axes: readonly number[]): Tensor {
    return ops.permute(this, axes);
  }
  transpose(a = -2, b = -1): Tensor {
    return ops.transpose(this, a, b);
  }
  get T(): Tensor {
    return ops.transpose(this, -2, -1);
  }
  slice(ranges: readonly (readonly [number, number] | readonly [number, number, number] | null)[]): Tensor {
    return ops.slice(this, ranges);
  }
  narrow(axis: number, start: number, length: number): Tensor {
    return ops.narrow(this, axis, start, length);
  }
  expand(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  squeeze(axes?: number | readonly number[]): Tensor {
    return ops.squeeze(this, axes);
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  flatten(start = 0, end = -1): Tensor {
    return ops.flatten(this, start, end);
  }
  contiguous(): Tensor {
    return ops.contiguous(this);
  }
}

export const isTensor = (v: unknown): v is Tensor => v instanceof Tensor;
registerTensorCheck(isTensor);
