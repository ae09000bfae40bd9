import type { DType } from '../../dtype.js';
import type { AccessMode } from '../strides.js';
import { UniformStruct, uniformElement } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';
import { mathWgsl } from './math.wgsl.js';

/** The type an operand is loaded as before the op body sees it ('raw': its own storage type). */
export type LoadAs = 'f32' | 'i32' | 'u32' | 'raw';

/** Compile-time parameters of the strided elementwise kernel (unary, binary, where, copy). */
export interface ElementwiseParams {
  /** Op name for the pipeline key; `body` must be a function of it alone. */
  readonly op: string;
  readonly inputs: readonly { readonly dtype: DType; readonly mode: AccessMode; readonly loadAs: LoadAs }[];
  readonly out: { readonly dtype: DType; readonly mode: 'c' | 's' };
  /** Rank of the (coalesced) index space; only used when some operand is strided. */
  readonly rank: number;
  /** Each thread handles 4 consecutive elements through vec4 loads and stores. */
  readonly vec4: boolean;
  /** WGSL expression of the result from the loaded values `v0, v1, ...` (and `u.alpha`, `u.beta`). */
  readonly body: (values: readonly string[]) => string;
  /** WGSL type of `body`'s value; converted to the output dtype on store. */
  readonly resultType: string;
}

export const WORKGROUP = 256;

/** Operand k's uniforms: `off` (element offset) and, when strided, `s<k>` strides. Index `inputs.length` is the output. */
export const elementwiseUniforms = (p: ElementwiseParams): UniformStruct => {
  const modes = [...p.inputs.map((x) => x.mode), p.out.mode];
  const fields: { name: string; type: 'u32' | 'f32' | `u32x${number}` }[] = [
    { name: 'n', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'beta', type: 'f32' },
    { name: 'pad', type: 'u32' },
    { name: 'off', type: 'u32x4' },
  ];
  if (modes.includes('s')) {
    fields.push({ name: 'shape', type: 'u32x8' });
    modes.forEach((m, k) => {
      if (m === 's') fields.push({ name: `s${k}`, type: 'u32x8' });
    });
  }
  return new UniformStruct(fields);
};

export function elementwiseWgsl(p: ElementwiseParams): string {
  const struct = elementwiseUniforms(p);
  const nIn = p.inputs.length;
  const operandModes = [...p.inputs.map((x) => x.mode), p.out.mode];
  const anyStrided = operandModes.includes('s');
  const elem = (dtype: DType, mode: AccessMode): string =>
    p.vec4 && mode === 'c' ? `vec4<${dtype}>` : dtype;
  const decls = p.inputs.map(
    (x, k) => `@group(0) @binding(${k + 1}) var<storage, read> in${k}: array<${elem(x.dtype, x.mode)}>;`,
  );
  decls.push(
    `@group(0) @binding(${nIn + 1}) var<storage, read_write> out: array<${elem(p.out.dtype, p.out.mode)}>;`,
  );
  const loadCast = (expr: string, k: number): string => {
    const x = p.inputs[k]!;
    return x.loadAs === 'raw' || x.loadAs === x.dtype ? expr : `${x.loadAs}(${expr})`;
  };
  const store = (expr: string): string => (p.resultType === p.out.dtype ? expr : `${p.out.dtype}(${expr})`);
  const offset = (k: number): string => uniformElement('off', k);

  let body: string;
  if (p.vec4) {
    const lines = [
      `let i4 = ${linearWorkgroupIndex} * ${WORKGROUP}u + lid;`,
      `if (i4 >= u.n / 4u) { return; }`,
    ];
    p.inputs.forEach((x, k) => {
      if (x.mode === 'c') lines.push(`let a${k} = in${k}[${offset(k)} / 4u + i4];`);
      else lines.push(`let a${k} = in${k}[${offset(k)}];`);
    });
    const comps = ['x', 'y', 'z', 'w'].map((c) =>
      store(p.body(p.inputs.map((x, k) => loadCast(x.mode === 'c' ? `a${k}.${c}` : `a${k}`, k)))),
    );
    lines.push(`out[${offset(nIn)} / 4u + i4] = vec4<${p.out.dtype}>(${comps.join(', ')});`);
    body = lines.join('\n  ');
  } else {
    const lines = [`let i = ${linearWorkgroupIndex} * ${WORKGROUP}u + lid;`, `if (i >= u.n) { return; }`];
    operandModes.forEach((m, k) => {
      if (m === 's') lines.push(`var o${k} = ${offset(k)};`);
    });
    if (anyStrided) {
      lines.push('var rem = i;');
      for (let d = p.rank - 1; d >= 0; d--) {
        const coord = d > 0 ? `c${d}` : 'rem';
        if (d > 0) {
          lines.push(`let c${d} = rem % ${uniformElement('shape', d)};`);
          lines.push(`rem = rem / ${uniformElement('shape', d)};`);
        }
        operandModes.forEach((m, k) => {
          if (m === 's') lines.push(`o${k} += ${coord} * ${uniformElement(`s${k}`, d)};`);
        });
      }
    }
    const index = (k: number): string => {
      const m = operandModes[k]!;
      return m === 's' ? `o${k}` : m === 'c' ? `${offset(k)} + i` : offset(k);
    };
    for (let k = 0; k < nIn; k++) lines.push(`let v${k} = ${loadCast(`in${k}[${index(k)}]`, k)};`);
    lines.push(`out[${index(nIn)}] = ${store(p.body(p.inputs.map((_, k) => `v${k}`)))};`);
    body = lines.join('\n  ');
  }
  return `${enableF16(...p.inputs.map((x) => x.dtype), p.out.dtype)}
${struct.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${body.includes('dc_') ? mathWgsl() : ''}
@compute @workgroup_size(${WORKGROUP})
fn main(${mainParams}) {
  ${body}
}`;
}
