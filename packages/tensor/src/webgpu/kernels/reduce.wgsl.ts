import type { ReduceOp } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { UniformStruct, uniformElement } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

/**
 * Strided reduction over the last dimensions. A workgroup of TX x TY = 256
 * threads covers TX outputs; the TY threads of one output stride over its
 * reduced elements (each accumulating sequentially, in f32 for float data),
 * then combine in a shared-memory tree. Stages: `single` writes the result;
 * `partial` reduces chunk g of the reduced range into partials [outer, G]
 * (value + index); `combine` reduces those partials.
 */
export interface ReduceParams {
  readonly op: ReduceOp;
  readonly inDtype: DType;
  readonly outDtype: DType;
  /** Coalesced ranks of the kept and the reduced dimensions (keep may be 0). */
  readonly keepRank: number;
  readonly redRank: number;
  readonly tx: number;
  readonly ty: number;
  readonly stage: 'single' | 'partial' | 'combine';
}

export const reduceUniforms = new UniformStruct([
  { name: 'outer', type: 'u32' },
  { name: 'size', type: 'u32' }, // reduced elements (combine: G)
  { name: 'offset', type: 'u32' },
  { name: 'chunk', type: 'u32' }, // partial: reduced elements per chunk
  { name: 'groups', type: 'u32' }, // partial: G
  { name: 'keepShape', type: 'u32x8' },
  { name: 'keepStrides', type: 'u32x8' },
  { name: 'redShape', type: 'u32x8' },
  { name: 'redStrides', type: 'u32x8' },
]);

export const reduceKey = (p: ReduceParams): string =>
  `reduce|${p.op}|${p.inDtype}>${p.outDtype}|k${p.keepRank}r${p.redRank}|${p.tx}x${p.ty}|${p.stage}`;

export const reduceComputeType = (dtype: DType): 'f32' | 'i32' | 'u32' =>
  dtype === 'f32' || dtype === 'f16' ? 'f32' : dtype;

/** WGSL lines adding the strided offset of flat index `flat` over `rank` dims into `acc`. */
const decompose = (
  flat: string,
  rank: number,
  shape: string,
  strides: string,
  acc: string,
  tag: string,
): string[] => {
  const lines = [`var ${tag}rem = ${flat};`];
  for (let d = rank - 1; d >= 0; d--) {
    if (d > 0) {
      lines.push(`${acc} += (${tag}rem % ${uniformElement(shape, d)}) * ${uniformElement(strides, d)};`);
      lines.push(`${tag}rem = ${tag}rem / ${uniformElement(shape, d)};`);
    } else lines.push(`${acc} += ${tag}rem * ${uniformElement(strides, 0)};`);
  }
  return lines;
};

export function reduceWgsl(p: ReduceParams): string {
  const ct = reduceComputeType(p.inDtype);
  const arg = p.op === 'argmax' || p.op === 'argmin';
  const isMax = p.op === 'max' || p.op === 'argmax';
  const lowest =
    ct === 'f32' ? 'bitcast<f32>(red_ninf_bits)' : ct === 'i32' ? 'bitcast<i32>(0x80000000u)' : '0u';
  const highest = ct === 'f32' ? 'bitcast<f32>(red_inf_bits)' : ct === 'i32' ? '2147483647' : '0xffffffffu';
  const init = p.op === 'sum' ? `${ct}(0)` : isMax ? lowest : highest;
  const nan = (v: string): string =>
    ct === 'f32' ? `((bitcast<u32>(${v}) & 0x7fffffffu) > 0x7f800000u)` : 'false';
  const cmp = isMax ? '>' : '<';
  const combineFn = arg
    ? `// Whether (v, i) beats (av, ai): NaN first, then the ${isMax ? 'larger' : 'smaller'} value, then the lower index.
fn better(v: ${ct}, i: u32, av: ${ct}, ai: u32) -> bool {
  let vn = ${nan('v')}; let an = ${nan('av')};
  if (vn || an) { return vn && (!an || i < ai); }
  if (v != av) { return v ${cmp} av; }
  return i < ai;
}`
    : p.op === 'sum'
      ? `fn comb(a: ${ct}, b: ${ct}) -> ${ct} { return a + b; }`
      : `fn comb(a: ${ct}, b: ${ct}) -> ${ct} {
  if (${nan('a')}) { return a; }
  if (${nan('b')}) { return b; }
  return ${isMax ? 'max' : 'min'}(a, b);
}`;
  const step = (v: string, i: string): string =>
    arg ? `if (better(${v}, ${i}, acc, accI)) { acc = ${v}; accI = ${i}; }` : `acc = comb(acc, ${v});`;

  const inElem = p.stage === 'combine' ? ct : p.inDtype;
  const decls = [
    `@group(0) @binding(1) var<storage, read> x: array<${inElem}>;`,
    p.stage === 'combine' ? '@group(0) @binding(2) var<storage, read> xi: array<u32>;' : '',
  ];
  const outBinding = p.stage === 'combine' ? 3 : 2;
  if (p.stage === 'partial') {
    decls.push(`@group(0) @binding(2) var<storage, read_write> pv: array<${ct}>;`);
    decls.push('@group(0) @binding(3) var<storage, read_write> pi: array<u32>;');
  } else decls.push(`@group(0) @binding(${outBinding}) var<storage, read_write> out: array<${p.outDtype}>;`);

  const { tx, ty } = p;
  const loop: string[] = [];
  if (p.stage === 'combine') {
    loop.push(`let base = o * u.size;`);
    loop.push(
      `for (var r = ty; r < u.size; r += ${ty}u) { let v = x[base + r]; let i = xi[base + r]; ${step('v', 'i')} }`,
    );
  } else {
    loop.push('var keepOff = u.offset;');
    if (p.keepRank > 0) loop.push(...decompose('o', p.keepRank, 'keepShape', 'keepStrides', 'keepOff', 'k'));
    const range =
      p.stage === 'partial'
        ? ['let r0 = g * u.chunk;', 'let r1 = min(u.size, r0 + u.chunk);']
        : ['let r0 = 0u;', 'let r1 = u.size;'];
    loop.push(...range);
    loop.push(`for (var r = r0 + ty; r < r1; r += ${ty}u) {`);
    loop.push('  var off = keepOff;');
    loop.push(...decompose('r', p.redRank, 'redShape', 'redStrides', 'off', 'r').map((l) => `  ${l}`));
    loop.push(`  let v = ${ct === p.inDtype ? 'x[off]' : `${ct}(x[off])`};`);
    loop.push(`  ${step('v', 'r')}`);
    loop.push('}');
  }

  const tree: string[] = [];
  if (ty > 1) {
    tree.push('sv[lid] = acc;');
    if (arg) tree.push('si[lid] = accI;');
    tree.push('workgroupBarrier();');
    for (let s = ty / 2; s >= 1; s /= 2) {
      tree.push(`if (ty < ${s}u) {`);
      tree.push(`  let v = sv[lid + ${s * tx}u];`);
      if (arg) tree.push(`  let i = si[lid + ${s * tx}u];`);
      tree.push(`  ${step('v', 'i')}`);
      tree.push('  sv[lid] = acc;');
      if (arg) tree.push('  si[lid] = accI;');
      tree.push('}');
      tree.push('workgroupBarrier();');
    }
  }
  const result = arg ? `select(accI, 0u, accI == 0xffffffffu)` : 'acc';
  const write =
    p.stage === 'partial'
      ? `pv[o * u.groups + g] = acc; pi[o * u.groups + g] = accI;`
      : `out[o] = ${arg ? `${p.outDtype}(${result})` : ct === p.outDtype ? 'acc' : `${p.outDtype}(acc)`};`;

  const wg =
    p.stage === 'partial'
      ? `let w = ${linearWorkgroupIndex}; let g = w % u.groups; let og = w / u.groups;`
      : `let og = ${linearWorkgroupIndex};`;
  return `${enableF16(p.inDtype, p.outDtype)}
${reduceUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.filter(Boolean).join('\n')}
${ty > 1 ? `var<workgroup> sv: array<${ct}, 256>;` : ''}
${ty > 1 && arg ? 'var<workgroup> si: array<u32, 256>;' : ''}
// Infinities via private variables: WGSL constant evaluation rejects non-finite values.
var<private> red_inf_bits: u32 = 0x7f800000u;
var<private> red_ninf_bits: u32 = 0xff800000u;
${combineFn}
@compute @workgroup_size(256)
fn main(${mainParams}) {
  ${wg}
  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;
  let o = og * ${tx}u + tx;
  var acc: ${ct} = ${init};
  var accI = 0xffffffffu;
  if (o < u.outer) {
    ${loop.join('\n    ')}
  }
  ${tree.join('\n  ')}
  if (ty == 0u && o < u.outer) { ${write} }
}`;
}
