/**
 * Uniform blocks described once and used twice: to emit the WGSL `struct` and
 * to pack the values in the same layout, so the two cannot drift apart.
 *
 * Field types: `u32`, `i32`, `f32` (4 bytes, 4-aligned) and `u32xN` (N a
 * multiple of 4: `array<vec4<u32>, N/4>`, 16-aligned; read element i with
 * {@link uniformElement}). Negative strides are stored as their u32 bit
 * pattern: u32 arithmetic wraps, so `offset + i * stride` still lands right.
 */
export type UniformType = 'u32' | 'i32' | 'f32' | `u32x${number}`;

export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
}

export class UniformStruct {
  /** The WGSL declaration `struct <name> { ... }`. */
  readonly wgsl: string;
  /** Size in bytes, a multiple of 16. */
  readonly byteSize: number;
  private readonly offsets: number[] = [];

  constructor(
    readonly fields: readonly UniformField[],
    name = 'Params',
  ) {
    let at = 0;
    const lines: string[] = [];
    for (const f of fields) {
      const len = arrayLength(f.type);
      if (len > 0) {
        at = Math.ceil(at / 16) * 16;
        lines.push(`  ${f.name}: array<vec4<u32>, ${len / 4}>,`);
        this.offsets.push(at);
        at += len * 4;
      } else {
        lines.push(`  ${f.name}: ${f.type},`);
        this.offsets.push(at);
        at += 4;
      }
    }
    if (fields.length === 0) lines.push('  unused: u32,');
    this.byteSize = Math.max(16, Math.ceil(at / 16) * 16);
    this.wgsl = `struct ${name} {\n${lines.join('\n')}\n}`;
  }

  /** Packs values (by field name; missing ones are 0) into a new word array. */
  pack(values: Readonly<Record<string, number | readonly number[]>>): Uint32Array {
    const words = new Uint32Array(this.byteSize / 4);
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = values[f.name];
      if (v === undefined) continue;
      const w = this.offsets[i]! / 4;
      if (typeof v === 'number') {
        if (f.type === 'f32') words[w] = f32Bits(v);
        else words[w] = v >>> 0; // i32 and u32 share the two's-complement bits
      } else {
        const len = arrayLength(f.type);
        if (v.length > len) throw new RangeError(`uniform ${f.name}: ${v.length} values for ${len} slots`);
        for (let j = 0; j < v.length; j++) words[w + j] = v[j]! >>> 0;
      }
    }
    return words;
  }
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);
const f32Bits = (v: number): number => {
  scratchF32[0] = v;
  return scratchU32[0]!;
};

const arrayLength = (type: UniformType): number => {
  if (!type.startsWith('u32x')) return 0;
  const n = Number(type.slice(4));
  if (!Number.isInteger(n) || n <= 0 || n % 4 !== 0)
    throw new RangeError(`uniform type ${type}: length must be a multiple of 4`);
  return n;
};

/** WGSL expression for element `i` (a compile-time index) of a `u32xN` field of `u`. */
export const uniformElement = (field: string, i: number, block = 'u'): string =>
  `${block}.${field}[${i >> 2}][${i & 3}]`;
