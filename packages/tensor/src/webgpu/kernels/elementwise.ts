import type { DType } from '../../dtype.js';
import type { GpuRuntime, StorageBinding } from '../runtime.js';
import { type AccessMode, accessMode, coalesceDims, MAX_RANK, padRank } from '../strides.js';
import type { UniformStruct } from '../uniforms.js';
import {
  type ElementwiseParams,
  elementwiseUniforms,
  elementwiseWgsl,
  type LoadAs,
  WORKGROUP,
} from './elementwise.wgsl.js';

/** A strided window of a buffer (strides and offset in elements). */
export interface StridedOperand {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly strides: readonly number[];
  readonly offset: number;
}

export interface ElementwiseLaunch {
  readonly op: string;
  /** The index space (the output's shape). */
  readonly shape: readonly number[];
  readonly inputs: readonly (StridedOperand & { readonly loadAs: LoadAs })[];
  readonly out: StridedOperand;
  readonly body: (values: readonly string[]) => string;
  readonly resultType: string;
  readonly alpha?: number;
  readonly beta?: number;
}

/** Row-major (ignoring size-1 dims) without allocating: the common case skips dimension merging. */
const rowMajor = (shape: readonly number[], strides: readonly number[]): boolean => {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    if (d !== 1 && strides[i] !== s) return false;
    s *= d;
  }
  return true;
};

const broadcastScalar = (shape: readonly number[], strides: readonly number[]): boolean => {
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && strides[i] !== 0) return false;
  return true;
};

interface Compiled {
  readonly struct: UniformStruct;
  readonly makeCode: () => string;
}
/**
 * Per pipeline key: the uniform layout and code generator. Dispatches are
 * small and frequent, so the per-call work is only the key and the packing.
 */
const compiled = new Map<string, Compiled>();

/** Records one strided elementwise dispatch (dims coalesced, vec4 when every operand is aligned and contiguous). */
export function launchElementwise(rt: GpuRuntime, e: ElementwiseLaunch): void {
  let n = 1;
  for (let i = 0; i < e.shape.length; i++) n *= e.shape[i]!;
  if (n === 0) return;
  if (n > 0xffffffff) throw new RangeError(`${e.op}: ${n} elements exceed the u32 index range`);
  // Runs once per dispatch, thousands of times a step: plain loops, no closures or spreads.
  const inputs = e.inputs;
  const last = inputs.length;
  const operands: StridedOperand[] = new Array(last + 1);
  for (let k = 0; k < last; k++) operands[k] = inputs[k]!;
  operands[last] = e.out;
  let flat = true;
  for (let k = 0; k <= last && flat; k++) {
    const s = operands[k]!.strides;
    flat = rowMajor(e.shape, s) || broadcastScalar(e.shape, s);
  }
  let shape: readonly number[];
  let strides: readonly (readonly number[])[] = [];
  let modes: AccessMode[];
  if (flat) {
    shape = [n];
    modes = new Array(last + 1);
    for (let k = 0; k <= last; k++)
      modes[k] = n > 1 && broadcastScalar(e.shape, operands[k]!.strides) ? 'b' : 'c';
  } else {
    const merged = coalesceDims(
      e.shape,
      operands.map((o) => o.strides),
    );
    if (merged.shape.length > MAX_RANK)
      throw new RangeError(`${e.op}: rank ${merged.shape.length} exceeds ${MAX_RANK} after merging dims`);
    shape = merged.shape;
    strides = merged.strides;
    modes = merged.strides.map((s) => accessMode(merged.shape, s));
  }
  if (modes[last] === 'b') modes[last] = 'c';
  let strided = false;
  for (let k = 0; k <= last; k++) if (modes[k] === 's') strided = true;
  // vec4: contiguous operands start on a vec4 boundary (broadcast scalars are loaded as scalars).
  let vec4 = n % 4 === 0 && !strided;
  for (let k = 0; k <= last; k++) if (modes[k] === 'c' && operands[k]!.offset % 4 !== 0) vec4 = false;

  let key = `ew|${e.op}|`;
  for (let k = 0; k < last; k++) key += `${inputs[k]!.dtype}${modes[k]}${inputs[k]!.loadAs},`;
  key += `|${e.out.dtype}${modes[last]}|r${strided ? shape.length : 0}|${vec4 ? 'v4' : 's1'}`;
  let entry = compiled.get(key);
  if (!entry) {
    const p: ElementwiseParams = {
      op: e.op,
      inputs: inputs.map((x, k) => ({ dtype: x.dtype, mode: modes[k]!, loadAs: x.loadAs })),
      out: { dtype: e.out.dtype, mode: modes[last] === 's' ? 's' : 'c' },
      rank: shape.length,
      vec4,
      body: e.body,
      resultType: e.resultType,
    };
    entry = { struct: elementwiseUniforms(p), makeCode: () => elementwiseWgsl(p) };
    compiled.set(key, entry);
  }
  const off: number[] = new Array(last + 1);
  const bindings: StorageBinding[] = new Array(last + 1);
  for (let k = 0; k <= last; k++) {
    off[k] = operands[k]!.offset;
    bindings[k] = k < last ? { buffer: operands[k]!.buffer } : { buffer: e.out.buffer, write: true };
  }
  const values: Record<string, number | readonly number[]> = {
    n,
    alpha: e.alpha ?? 0,
    beta: e.beta ?? 0,
    off,
  };
  if (strided) {
    values.shape = padRank(shape);
    for (let k = 0; k <= last; k++) if (modes[k] === 's') values[`s${k}`] = padRank(strides[k]!);
  }
  rt.dispatch({
    pipelineKey: key,
    makeCode: entry.makeCode,
    bindings,
    uniforms: entry.struct.pack(values),
    workgroups: Math.ceil((vec4 ? n / 4 : n) / WORKGROUP),
  });
}
