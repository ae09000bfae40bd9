/**
 * A uniform block of 4-byte scalar fields, declared once: the WGSL `struct`
 * and the packer come from the same list, so they cannot drift apart.
 */
export type ScalarField = readonly [name: string, type: 'u32' | 'i32' | 'f32'];

export class Uniforms {
  /** `struct Params { ... }` */
  readonly wgsl: string;
  private readonly index: Map<string, { slot: number; type: ScalarField[1] }>;
  private readonly words: number;

  constructor(readonly fields: readonly ScalarField[]) {
    this.wgsl = `struct Params {\n${fields.map(([n, t]) => `  ${n}: ${t},`).join('\n')}\n}\n@group(0) @binding(0) var<uniform> u: Params;`;
    this.index = new Map(fields.map(([n, t], slot) => [n, { slot, type: t }]));
    this.words = Math.max(4, Math.ceil(fields.length / 4) * 4);
  }

  /** Packs values by field name; unknown names throw, missing ones are 0. */
  pack(values: Readonly<Record<string, number>>): Uint32Array {
    const out = new Uint32Array(this.words);
    const asF32 = new Float32Array(out.buffer);
    const asI32 = new Int32Array(out.buffer);
    for (const [name, v] of Object.entries(values)) {
      const f = this.index.get(name);
      if (!f) throw new RangeError(`uniform ${name} is not declared`);
      if (f.type === 'f32') asF32[f.slot] = v;
      else if (f.type === 'i32') asI32[f.slot] = v;
      else out[f.slot] = v >>> 0;
    }
    return out;
  }
}
