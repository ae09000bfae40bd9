/**
 * @dynconv/tensor — tensors with reverse-mode autograd on a CPU reference
 * backend and WebGPU. Browser-safe: Dawn for Node lives in `@dynconv/tensor/node`.
 */
export { type BackwardFn, backward, GradNode, isGradEnabled, noGrad, record } from './autograd.js';
export type {
  Backend,
  BackendBuffer,
  BinaryOp,
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
} from './backend.js';
export { CpuBackend, type CpuBackendOptions } from './cpu/backend.js';
export { getDefaultBackend, setDefaultBackend } from './device.js';
export {
  byteSize,
  type DType,
  f16BitsToF32,
  f32ToF16Bits,
  isFloat,
  roundF16,
  type TypedArray,
} from './dtype.js';
export { fmtShape, GpuError, TensorError } from './errors.js';
export * from './ops/index.js';
export { broadcastView, empty } from './ops/util.js';
export { bitsToUniform, bitsToUniformOpen, philox4x32, seedKey } from './random/philox.js';
export { keep, TensorScope, tensorScope, tidy } from './scope.js';
export { broadcastShapes, contiguousStrides, numel } from './shape.js';
export { Storage } from './storage.js';
export { isTensor, Tensor } from './tensor.js';
export { usesReducedPrecision, WebGPUBackend, type WebGPUBackendOptions } from './webgpu/backend.js';
export * from './webgpu/index.js';
