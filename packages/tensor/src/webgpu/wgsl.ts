import type { DType } from '../dtype.js';

/** WGSL scalar type that stores `dtype`. */
export const wgslType = (dtype: DType): string => dtype;

/** `enable f16;` when any of the dtypes is f16 (only then: the extension needs `shader-f16`). */
export const enableF16 = (...dtypes: readonly DType[]): string =>
  dtypes.includes('f16') ? 'enable f16;\n' : '';

/** Whether a dtype is an integer type (computed exactly in its own type, not in f32). */
export const isIntDType = (dtype: DType): boolean => dtype === 'i32' || dtype === 'u32';

/**
 * Builtins every kernel's `main` takes; `linearWorkgroupIndex` reads the 1D
 * workgroup index of a grid the runtime may have folded into 2D.
 */
export const mainParams =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32';
export const linearWorkgroupIndex = '(wid.x + wid.y * nwg.x)';

/** Literal for a compile-time unsigned constant. */
export const u32Lit = (n: number): string => `${n >>> 0}u`;

/** Storage declaration at `@binding(binding)`. */
export const storage = (binding: number, name: string, elem: string, write: boolean): string =>
  `@group(0) @binding(${binding}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${elem}>;`;

/** The uniform block declaration (always binding 0). */
export const uniformDecl = (structName = 'Params'): string =>
  `@group(0) @binding(0) var<uniform> u: ${structName};`;

/** Converts a WGSL expression of type `from` to `to` (numeric conversion; i32<->u32 keeps bits). */
export const convert = (expr: string, from: DType | 'f32', to: DType): string =>
  from === to ? expr : `${to}(${expr})`;

/** The type arithmetic runs in: f32 for float data, the integer type itself otherwise. */
export const computeType = (...dtypes: readonly DType[]): 'f32' | 'i32' | 'u32' => {
  if (dtypes.some((d) => d === 'f32' || d === 'f16')) return 'f32';
  if (dtypes.every((d) => d === 'u32')) return 'u32';
  return 'i32';
};
