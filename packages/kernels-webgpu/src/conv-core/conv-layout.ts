import { type ScalarField, Uniforms } from '../common/uniforms.js';

/**
 * The token loop's uniform block (conv-loop.wgsl.ts and the kernels that share
 * its launchers). Layouts extend it (their fields after these).
 */
export const convUniforms = new Uniforms([
  ['T', 'u32'],
  ['D', 'u32'],
  ['L', 'u32'], // tokens per chunk
  ['chunksPerSeq', 'u32'],
  ['numChunks', 'u32'],
  ['gridX', 'u32'],
  ['H', 'u32'], // head-wise: heads
  ['hs', 'u32'], // head-wise: channels per head
  ['WD', 'u32'], // W * D
  ['rows', 'u32'], // partial rows per chunk
  ['count', 'u32'], // token-major kernels: flat tokens B * T
]);

/**
 * Where a conv kernel finds its tensors, and how many streams one dispatch
 * covers. The default, {@link contiguousLayout}: x (and dx) is a `[B, T, D]`
 * tensor of its own (channel c of token row `row` at `row * D + c`), one
 * stream. A layout may put x at another row stride and column offset (e.g. a
 * column range of a packed matmul output), and may cover several streams of
 * the same shape in one dispatch: a grid axis then spans streams × `u.blocks`
 * workgroups, `stream` (uniform over a workgroup) is the workgroup's stream,
 * and each binding named in `perStream` exists once per stream (`gb_s0`,
 * `gb_s1`, ...: WGSL cannot index bindings, so code touching them is
 * generated once per stream under a `switch`, see {@link forEachStream}).
 * y and dy always are per-stream `[B, T, D]` tensors of their own.
 */
export interface ConvLayout {
  /** Pipeline-key fragment ('' for the contiguous layout). */
  readonly key: string;
  /** The uniform block: convUniforms' fields first (the shared launchers pack those), then the layout's. */
  readonly uniforms: Uniforms;
  /** Streams per dispatch. */
  readonly streams: number;
  /** Bindings that exist once per stream (with one stream, once, under their own name). */
  readonly perStream: readonly string[];
  /**
   * Code defining `stream` and the per-stream values the index functions use,
   * from the workgroup's index `along` the stream axis (e.g. `wid.x`); '' for
   * the contiguous layout.
   */
  readonly prelude: (along: string) => string;
  /** The workgroup's block within its stream from its index `along` the stream axis (`along` itself with one stream). */
  readonly block: (along: string) => string;
  /** Index of channel `c` of token row `row` (an atom, call or parenthesised expression) in x and dx. */
  readonly xIndex: (row: string) => string;
}

/** x, dx, dy and y as `[B, T, D]` tensors of their own, one stream per dispatch. */
export const contiguousLayout: ConvLayout = {
  key: '',
  uniforms: convUniforms,
  streams: 1,
  perStream: [],
  prelude: () => '',
  block: (along) => along,
  xIndex: (row) => `${row} * u.D + c`,
};

/** The uniform fields a layout adds to convUniforms; `blocks` (workgroups per stream along the stream axis) comes first. */
export const layoutUniforms = (fields: readonly ScalarField[]): Uniforms =>
  new Uniforms([...convUniforms.fields, ['blocks', 'u32'], ...fields]);

/** How many streams a kernel covers and which of its bindings exist once per stream. */
export type StreamSet = Pick<ConvLayout, 'streams' | 'perStream'>;

/** The binding of stream `i` of a per-stream binding `name`. */
export const streamBinding = (name: string, i: number): string => `${name}_s${i}`;

/**
 * `code` for the workgroup's stream. With one stream, `code` as is (binding
 * names unchanged); with several, one copy per stream under `switch stream`,
 * where `name(b)` is stream i's binding for a per-stream `b` (other names
 * unchanged). Why per block and not per access: a block of loads stays one
 * run of independent loads (memory-level parallelism) inside its case.
 */
export function forEachStream(
  layout: StreamSet,
  code: (name: (binding: string) => string, stream: number) => string,
  indent = '\n    ',
): string {
  const S = layout.streams;
  if (S === 1) return code((b) => b, 0);
  const cases = Array.from({ length: S }, (_, i) => {
    const name = (b: string): string => (layout.perStream.includes(b) ? streamBinding(b, i) : b);
    return `${i === S - 1 ? 'default' : `case ${i}u`}: {${indent}  ${code(name, i)}${indent}}`;
  });
  return `switch stream {${indent}${cases.join(indent)}${indent}}`;
}

/**
 * `let name = value;` for each entry, where a value may read per-stream
 * bindings (`name(b)`): with several streams, `var` declarations assigned
 * per stream by {@link forEachStream}.
 */
export function streamLets(
  layout: StreamSet,
  lets: readonly {
    readonly name: string;
    readonly type: string;
    readonly value: (name: (binding: string) => string, stream: number) => string;
  }[],
  sep: string,
): string {
  if (layout.streams === 1) return lets.map((l) => `let ${l.name} = ${l.value((b) => b, 0)};`).join(sep);
  return `${lets.map((l) => `var ${l.name}: ${l.type};`).join(sep)}${sep}${forEachStream(
    layout,
    (name, s) => lets.map((l) => `${l.name} = ${l.value(name, s)};`).join(`${sep}  `),
    sep,
  )}`;
}

/** One storage binding of a kernel: name, element type, written. */
export type BindingDecl = readonly [name: string, type: string, write: boolean];

/** The storage bindings from `@binding(1)` on, per-stream ones once per stream (stream order, consecutive). */
export const bindingDecls = (layout: StreamSet, bindings: readonly BindingDecl[]): string =>
  bindings
    .flatMap(([n, t, w]) =>
      layout.streams > 1 && layout.perStream.includes(n)
        ? Array.from({ length: layout.streams }, (_, i) => [streamBinding(n, i), t, w] as const)
        : [[n, t, w] as const],
    )
    .map(
      ([n, t, w], i) =>
        `@group(0) @binding(${i + 1}) var<storage, ${w ? 'read_write' : 'read'}> ${n}: array<${t}>;`,
    )
    .join('\n');

/** The launch-side half of a layout: its uniform block and values, and streams per dispatch. */
export interface LaunchLayout {
  readonly uniforms: Uniforms;
  readonly streams: number;
  /** The layout's uniform values (the launcher adds convUniforms' and `blocks`). */
  readonly values: Readonly<Record<string, number>>;
}
