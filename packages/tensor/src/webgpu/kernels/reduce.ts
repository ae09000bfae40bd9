import type { ReduceOp } from '../../backend.js';
import type { DType } from '../../dtype.js';
import type { GpuRuntime } from '../runtime.js';
import { coalesceDims, padRank } from '../strides.js';
import {
  type ReduceParams,
  reduceComputeType,
  reduceKey,
  reduceUniforms,
  reduceWgsl,
} from './reduce.wgsl.js';

/** A strided input: element (keep..., red...) at offset + sum(index * stride). */
export interface ReduceInput {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Threads per output (ty) and outputs per workgroup (tx), from the reduced size and the access pattern. */
const chooseShape = (size: number, innerStrideIsOne: boolean): { tx: number; ty: number } => {
  if (size <= 16) return { tx: 256, ty: 1 };
  if (innerStrideIsOne) {
    if (size >= 512) return { tx: 1, ty: 256 };
    if (size >= 64) return { tx: 4, ty: 64 };
    return { tx: 16, ty: 16 };
  }
  return size >= 64 ? { tx: 32, ty: 8 } : { tx: 64, ty: 4 };
};

/** Reduces the last `reduceRank` dims of `x` into contiguous `out` (see `Backend.reduce`). */
export function launchReduce(
  rt: GpuRuntime,
  op: ReduceOp,
  x: ReduceInput,
  reduceRank: number,
  out: GPUBuffer,
  outDtype: DType,
): void {
  const rank = x.shape.length;
  const keepShape = x.shape.slice(0, rank - reduceRank);
  const redShape = x.shape.slice(rank - reduceRank);
  const outer = keepShape.reduce((a, b) => a * b, 1);
  const size = redShape.reduce((a, b) => a * b, 1);
  if (outer === 0) return;
  const keep = coalesceDims(keepShape, [x.strides.slice(0, rank - reduceRank)]);
  const red = coalesceDims(redShape, [x.strides.slice(rank - reduceRank)]);
  const keepRank = keepShape.length === 0 || outer === 1 ? 0 : keep.shape.length;
  const redStrides = red.strides[0]!;
  const innerOne = redStrides[redStrides.length - 1] === 1;
  const { tx, ty } = chooseShape(size, innerOne);
  const outerGroups = Math.ceil(outer / tx);
  const ct = reduceComputeType(x.dtype);
  const base = {
    outer,
    size,
    offset: x.offset,
    keepShape: padRank(keep.shape),
    keepStrides: padRank(keep.strides[0]!),
    redShape: padRank(red.shape),
    redStrides: padRank(redStrides),
  };
  const common = { op, inDtype: x.dtype, keepRank, redRank: red.shape.length };

  // Few outputs over many elements: split the reduced range so the whole GPU works, then combine.
  const groups =
    outerGroups >= 256 ? 1 : Math.min(Math.ceil(1024 / outerGroups), Math.ceil(size / (ty * 64)));
  if (groups <= 1) {
    const p: ReduceParams = { ...common, outDtype, tx, ty, stage: 'single' };
    rt.dispatch({
      pipelineKey: reduceKey(p),
      makeCode: () => reduceWgsl(p),
      bindings: [{ buffer: x.buffer }, { buffer: out, write: true }],
      uniforms: reduceUniforms.pack(base),
      workgroups: outerGroups,
    });
    return;
  }
  const chunk = Math.ceil(size / groups);
  const partialValues = rt.acquire(outer * groups * 4);
  const partialIndices = rt.acquire(outer * groups * 4);
  const partial: ReduceParams = { ...common, outDtype: ct, tx, ty, stage: 'partial' };
  rt.dispatch({
    pipelineKey: reduceKey(partial),
    makeCode: () => reduceWgsl(partial),
    bindings: [
      { buffer: x.buffer },
      { buffer: partialValues, write: true },
      { buffer: partialIndices, write: true },
    ],
    uniforms: reduceUniforms.pack({ ...base, chunk, groups }),
    workgroups: outerGroups * groups,
  });
  const shape2 = chooseShape(groups, true);
  const combine: ReduceParams = {
    op,
    inDtype: ct,
    outDtype,
    keepRank: 1,
    redRank: 1,
    ...shape2,
    stage: 'combine',
  };
  rt.dispatch({
    pipelineKey: reduceKey(combine),
    makeCode: () => reduceWgsl(combine),
    bindings: [{ buffer: partialValues }, { buffer: partialIndices }, { buffer: out, write: true }],
    uniforms: reduceUniforms.pack({ outer, size: groups }),
    workgroups: Math.ceil(outer / shape2.tx),
  });
  rt.release(partialValues);
  rt.release(partialIndices);
}
