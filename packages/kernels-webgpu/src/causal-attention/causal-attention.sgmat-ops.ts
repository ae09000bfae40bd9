import type { SgMatShape, SgMatSyntax } from '@dynconv/tensor';
import { rowTileLoads } from '../common/tile-loads.js';

/**
 * WGSL building blocks shared by the subgroup-matrix attention kernels
 * (`causal-attention.sgmat.wgsl.ts`, `causal-attention.sgmat-dq.wgsl.ts`):
 * the matrix operations (real builtins or the scalar emulation), f16 tile
 * staging from f32 or f16 storage, and the module header.
 */

/** What the helpers need to know of a kernel. */
export interface SgmatKernelBase {
  /** Storage dtype of q, k, v, o (and the gradients). */
  readonly dtype: 'f32' | 'f16';
  readonly dh: number;
  /** The f16 → f32 subgroup-matrix config (M = 16; N, K ∈ {8, 16}). */
  readonly shape: SgMatShape;
  /** Builtin spelling probed by the tensor package (`matmulCaps`). */
  readonly syntax: SgMatSyntax;
  /**
   * Test aid: scalar stand-ins for the subgroup-matrix builtins (each lane
   * computes its share of a result matrix from workgroup memory with the same
   * offsets, strides and majorness) and f32 workgroup arrays holding
   * f16-rounded values (pack2x16float), so the kernel's indexing and numerics
   * run on adapters without subgroup matrices or f16 (llvmpipe).
   */
  readonly emulate: boolean;
}

export const SUBGROUP = 32;
/** Row padding of the f16 tiles: 8 halves keep rows 16-byte aligned (matrix load/store strides). */
export const PAD = 8;
/** Row padding of the f32 score tile: 4 floats (16 bytes). */
export const PAD_F32 = 4;

export const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** A float literal WGSL accepts (`8` → `8.0`). */
export const flt = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);

/** A loaded left/right operand: a matrix variable, or (emulated) an offset into `arr`. */
export interface Operand {
  readonly name: string;
  readonly arr: string;
  readonly ld: number;
  readonly colMajor: boolean;
}

/**
 * The subgroup-matrix operations as WGSL statements, real or emulated. In the
 * emulation a result matrix is `array<f32, M·N/32>` per lane, element `r`
 * being entry `e = lane + 32 r` (row `e / N`, column `e % N`); operands are
 * offsets read at multiply time (their workgroup memory is unchanged until then).
 */
export function matrixOps(p: SgmatKernelBase) {
  const { m, n, k } = p.shape;
  const per = (m * n) / SUBGROUP;
  const L = `subgroup_matrix_left<f16, ${k}, ${m}>`;
  const R = `subgroup_matrix_right<f16, ${n}, ${k}>`;
  const RES = `subgroup_matrix_result<f32, ${n}, ${m}>`;
  const tmpl = p.syntax.builtins === 'template';
  const loadCall = (type: string, arr: string, off: string, colMajor: boolean, ld: number) =>
    tmpl
      ? `subgroupMatrixLoad<${type}, ${colMajor ? 'col_major' : 'row_major'}>(&${arr}, ${off}, ${ld}u)`
      : `subgroupMatrixLoad<${type}>(&${arr}, ${off}, ${colMajor}, ${ld}u)`;
  const at = (o: Operand, row: string, col: string) =>
    o.colMajor
      ? `${o.arr}[${o.name} + ${col} * ${o.ld}u + ${row}]`
      : `${o.arr}[${o.name} + ${row} * ${o.ld}u + ${col}]`;
  // Loop bounds `emuPer` / `emuK` are opaque to the compiler (see `emulationBounds`).
  const lanes = (body: string) =>
    `for (var r = 0u; r < emuPer; r++) { let e = lane + r * ${SUBGROUP}u; let er = e / ${n}u; let ec = e % ${n}u; ${body} }`;
  return {
    /** Declares a zeroed result matrix. */
    zero: (name: string) => (p.emulate ? `var ${name} = array<f32, ${per}>();` : `var ${name} = ${RES}();`),
    /** Loads a left (`M×K`) or right (`K×N`) operand from workgroup array `arr`. */
    operand: (
      side: 'left' | 'right',
      name: string,
      arr: string,
      off: string,
      ld: number,
      colMajor: boolean,
    ) => ({
      code: p.emulate
        ? `let ${name} = ${off};`
        : `var ${name} = ${loadCall(side === 'left' ? L : R, arr, off, colMajor, ld)};`,
      op: { name, arr, ld, colMajor } as Operand,
    }),
    /** `acc += a · b`. */
    mma: (acc: string, a: Operand, b: Operand) =>
      p.emulate
        ? lanes(
            `var s = ${acc}[r]; for (var q = 0u; q < emuK; q++) { s += ${at(a, 'er', 'q')} * ${at(b, 'q', 'ec')}; } ${acc}[r] = s;`,
          )
        : `${acc} = subgroupMatrixMultiplyAccumulate(${a.name}, ${b.name}, ${acc});`,
    /** Stores a result matrix row-major at `off` of f32 array `arr`. */
    store: (acc: string, arr: string, off: string, ld: number) =>
      p.emulate
        ? lanes(`${arr}[${off} + er * ${ld}u + ec] = ${acc}[r];`)
        : tmpl
          ? `subgroupMatrixStore<row_major>(&${arr}, ${off}, ${acc}, ${ld}u);`
          : `subgroupMatrixStore(&${arr}, ${off}, ${acc}, false, ${ld}u);`,
    /** Loads a result matrix row-major from `off` of f32 array `arr`. */
    loadResult: (acc: string, arr: string, off: string, ld: number) =>
      p.emulate
        ? lanes(`${acc}[r] = ${arr}[${off} + er * ${ld}u + ec];`)
        : `${acc} = ${loadCall(RES, arr, off, false, ld)};`,
  };
}

/** `[0, 1, …, len - 1]`. */
export const range = (len: number): number[] => Array.from({ length: len }, (_, i) => i);

/** A loaded operand with the statement that loads it (empty when loaded earlier). */
export interface LoadedOperand {
  readonly code: string;
  readonly op: Operand;
}

/**
 * Matrix work on a subgroup's `sgRows` query rows: `rowTiles` result
 * matrices down, named `acc{i}_{j}` (row tile i, column tile j).
 */
export function rowTileOps(p: SgmatKernelBase & { readonly sgRows: number }) {
  const mx = matrixOps(p);
  const { m, n, k } = p.shape;
  const rowTiles = p.sgRows / m;
  /** Offset of the subgroup's row tile `i` in an array with leading dimension `ld`. */
  const rowOff = (i: number, ld: number) => `(sg * ${p.sgRows}u + ${i * m}u) * ${ld}u`;
  /** The `cols` result matrices of each row tile, as `[i][j]` pairs (row tiles outer). */
  const each = <T>(cols: number, f: (i: number, j: number) => T): T[] =>
    range(rowTiles).flatMap((i) => range(cols).map((j) => f(i, j)));
  /** Left operand: row tile `i`, K step `kk` of a row-major `[row][·]` array. */
  const left = (name: string, arr: string, i: number, kk: number, ld: number): LoadedOperand =>
    mx.operand('left', name, arr, `${rowOff(i, ld)} + ${kk * k}u`, ld, false);
  return {
    mx,
    rowTiles,
    left,
    /** Left operands `name{i}_{kk}` for `steps` K steps, loaded once and held in registers. */
    heldLeft: (name: string, arr: string, ld: number, steps: number): LoadedOperand[][] =>
      range(rowTiles).map((i) => range(steps).map((kk) => left(`${name}${i}_${kk}`, arr, i, kk, ld))),
    /** Right operand block (K step `kk`, column tile `j`) of a matrix stored row- or column-major. */
    right: (name: string, arr: string, kk: number, j: number, ld: number, colMajor: boolean): LoadedOperand =>
      mx.operand(
        'right',
        name,
        arr,
        colMajor ? `${j * n * ld + kk * k}u` : `${kk * k * ld + j * n}u`,
        ld,
        colMajor,
      ),
    /** Zeroed result matrices `acc{i}_{j}` for `cols` column tiles. */
    zeros: (acc: string, cols: number): string[] => each(cols, (i, j) => mx.zero(`${acc}${i}_${j}`)),
    /** Stores `acc{i}_{j}` row-major into f32 array `arr` at the subgroup's rows. */
    store: (acc: string, cols: number, arr: string, ld: number): string[] =>
      each(cols, (i, j) => mx.store(`${acc}${i}_${j}`, arr, `${rowOff(i, ld)} + ${j * n}u`, ld)),
    /** Loads `acc{i}_{j}` back from where `store` put them. */
    load: (acc: string, cols: number, arr: string, ld: number): string[] =>
      each(cols, (i, j) => mx.loadResult(`${acc}${i}_${j}`, arr, `${rowOff(i, ld)} + ${j * n}u`, ld)),
    /**
     * `acc{i}_{j} += Σ_kk left(i, kk) · right(kk, j)` over `steps` K steps and
     * `cols` column tiles, each right operand reused over the row tiles.
     */
    product: (
      acc: string,
      cols: number,
      steps: number,
      leftOf: (i: number, kk: number) => LoadedOperand,
      rightOf: (kk: number, j: number) => LoadedOperand,
    ): string[] => {
      const out: string[] = [];
      for (const kk of range(steps)) {
        out.push('{');
        const a = range(rowTiles).map((i) => leftOf(i, kk));
        for (const x of a) if (x.code) out.push(`  ${x.code}`);
        for (const j of range(cols)) {
          const b = rightOf(kk, j);
          out.push(`  { ${b.code}`);
          for (const i of range(rowTiles)) out.push(`    ${mx.mma(`${acc}${i}_${j}`, a[i]!.op, b.op)}`);
          out.push('  }');
        }
        out.push('}');
      }
      return out;
    },
  };
}

/**
 * Emulation: the per-lane element and K loop bounds, read through a uniform
 * (Tq is never 0 when the kernel runs) so that the shader compiler does not
 * unroll the scalar matrix products: fully unrolled, llvmpipe took a minute
 * to compile one kernel.
 */
export const emulationBounds = (p: SgmatKernelBase): string =>
  p.emulate
    ? `let emuPer = select(${(p.shape.m * p.shape.n) / SUBGROUP}u, 0u, u.Tq == 0u);
  let emuK = select(${p.shape.k}u, 0u, u.Tq == 0u);`
    : '';

/** A tile copy global → workgroup memory in two halves (register loads, then stores). */
export interface Staging {
  readonly decl: string;
  readonly load: string;
  readonly store: string;
}

/**
 * Copies `rows` rows (row `base + r`, valid below `limit`, at global row
 * `off + base + r`) of `src` into f16 array `dst` (f32 holding f16-rounded
 * values when emulating): `[row][d]` with leading dimension `ld`, or
 * transposed `[d][row]`. Rows past `limit` and dims past DH are zero. Lanes
 * walk the global contiguous axis for the natural layout (coalesced loads)
 * and the rows when transposing (conflict-free stores). `x` names the registers.
 * The head dim is padded to a multiple of 16; the module declares `DH`.
 */
export function staging(
  p: SgmatKernelBase & { readonly threads: number },
  x: string,
  dst: string,
  src: string,
  rows: number,
  base: string,
  limit: string,
  off: string,
  transposed: boolean,
  ld: number,
): Staging {
  const d4p = roundUp(p.dh, 16) / 4;
  const nt = p.threads;
  const units = rows * d4p;
  const per = Math.ceil(units / nt);
  const vec = p.dh % 4 === 0;
  const el = p.emulate ? 'f32' : 'f16';
  const read = (grow: string) =>
    vec
      ? `vec4<f32>(${src}[(${grow}) * ${p.dh / 4}u + c])`
      : `vec4<f32>(${[0, 1, 2, 3]
          .map(
            (t) =>
              `select(0.0, f32(${src}[min((${grow}) * DH + c * 4u + ${t}u, (${grow}) * DH + DH - 1u)]), c * 4u + ${t}u < DH)`,
          )
          .join(', ')})`;
  const cvt = (v: string) => (p.emulate ? `h16(${v})` : `vec4<f16>(${v})`);
  const idx = (t: number) =>
    `let e = lid + ${t * nt}u; ${transposed ? `let r = e % ${rows}u; let c = e / ${rows}u;` : `let r = e / ${d4p}u; let c = e % ${d4p}u;`}`;
  const regs = Array.from({ length: per }, (_, t) => t);
  const checked = regs
    .map(
      (t) => `${x}${t} = vec4<${el}>(0.0);
    { ${idx(t)}
      if (e < ${units}u && ${base} + r < ${limit} && c * 4u < DH) { ${x}${t} = ${cvt(read(`${off} + ${base} + r`))}; } }`,
    )
    .join('\n    ');
  // A tile wholly below the limit (all but the last) with no padded head dims loads unchecked (rowTileLoads).
  const unchecked = regs
    .map((t) => `{ ${idx(t)} ${x}${t} = ${cvt(read(`${off} + ${base} + r`))}; }`)
    .join('\n    ');
  const plain = p.dh % 16 === 0 && units % nt === 0;
  return {
    decl: regs.map((t) => `var ${x}${t}: vec4<${el}>;`).join(' '),
    load: plain ? rowTileLoads(base, rows, limit, unchecked, checked) : checked,
    store: regs
      .map((t) => {
        const at = (i: number) =>
          transposed ? `(c * 4u + ${i}u) * ${ld}u + r` : `r * ${ld}u + c * 4u + ${i}u`;
        return `{ ${idx(t)} if (e < ${units}u) { ${[0, 1, 2, 3].map((i) => `${dst}[${at(i)}] = ${x}${t}[${i}];`).join(' ')} } }`;
      })
      .join('\n    '),
  };
}

/** Staging of a K or V tile: `bk` keys from key `nk0` of kv head `kvh`, `[key][d]` or transposed. */
export const keyTileStaging = (
  p: SgmatKernelBase & { readonly threads: number; readonly bk: number },
  x: string,
  dst: string,
  src: string,
  transposed: boolean,
  ld: number,
): Staging => staging(p, x, dst, src, p.bk, 'nk0', 'u.Tk', 'kvh * u.Tk', transposed, ld);

/** Staging of the block's `rows` query rows (of Q or dO) from row `q0` of head `bh`, `[row][d]`. */
export const queryTileStaging = (
  p: SgmatKernelBase & { readonly threads: number },
  x: string,
  dst: string,
  src: string,
  rows: number,
  ld: number,
): Staging => staging(p, x, dst, src, rows, 'q0', 'u.Tq', 'bh * u.Tq', false, ld);

/** `enable` lines and the uniformity diagnostic (none but f16 storage when emulating). */
export const sgmatHeader = (p: SgmatKernelBase): string =>
  p.emulate
    ? p.dtype === 'f16'
      ? 'enable f16;'
      : ''
    : `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, ${p.syntax.diagnostic}.subgroup_matrix_uniformity);`;

/** Emulation: f32 → f16 → f32 rounding without the f16 extension (`h16` vec4, `h16s` scalar). */
export const emulationRounding = (p: SgmatKernelBase): string =>
  p.emulate
    ? `fn h16(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(pack2x16float(v.xy)), unpack2x16float(pack2x16float(v.zw)));
}
fn h16s(x: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x; }`
    : '';

/**
 * Every workgroup variable of the sgmat kernels is a whole number of these
 * bytes. Cooperative-matrix loads and stores need 16-byte aligned pointers
 * (Vulkan VUID-RuntimeSpirv-OpCooperativeMatrixLoadKHR-08986), and the
 * variables are laid out back to back in an order the kernel does not
 * control: on the H100 a 4-byte `u32` flag shifted the f16 tiles after it,
 * so every matrix load read misaligned data (garbage S and O, NaN from
 * uninitialised memory). The emulation (plain array indexing) cannot see this.
 */
export const WORKGROUP_ALIGN = 16;

const scalarBytes: Record<string, number> = { f16: 2, f32: 4, u32: 4, i32: 4 };

/** Bytes of a workgroup variable's WGSL type: a scalar, `vecN<T>` or `array<T, N>` of those. */
function wgslTypeBytes(type: string): number {
  const t = type.replace(/\s+/g, '');
  const arr = /^array<(.+),(\d+)>$/.exec(t);
  if (arr) return wgslTypeBytes(arr[1]!) * Number(arr[2]);
  const vec = /^vec([234])<(\w+)>$/.exec(t);
  if (vec) return Number(vec[1]) * wgslTypeBytes(vec[2]!);
  const bytes = scalarBytes[t];
  if (bytes === undefined) throw new Error(`sgmat: unexpected workgroup type ${type}`);
  return bytes;
}

/** The workgroup variables of `code` whose size is not a multiple of WORKGROUP_ALIGN, as `name: bytes`. */
export function misalignedWorkgroupVars(code: string): string[] {
  return Array.from(code.matchAll(/var<workgroup>\s+(\w+)\s*:\s*([^;]+);/g))
    .map(([, name, type]) => [name!, wgslTypeBytes(type!)] as const)
    .filter(([, bytes]) => bytes % WORKGROUP_ALIGN !== 0)
    .map(([name, bytes]) => `${name}: ${bytes}`);
}

/** Returns `code`, or throws when a workgroup variable would break the others' alignment (see WORKGROUP_ALIGN). */
export function checkedWorkgroupLayout(code: string): string {
  const bad = misalignedWorkgroupVars(code);
  if (bad.length > 0)
    throw new Error(
      `sgmat: workgroup variables not a multiple of ${WORKGROUP_ALIGN} bytes: ${bad.join(', ')}`,
    );
  return code;
}

/** Storage bindings from 1 (after the uniforms): `[name, element type, writable]`. */
export const storageBindings = (bindings: readonly (readonly [string, string, boolean])[]): string =>
  bindings
    .map(
      ([name, t, w], i) =>
        `@group(0) @binding(${i + 1}) var<storage, ${w ? 'read_write' : 'read'}> ${name}: array<${t}>;`,
    )
    .join('\n');
