import { forEachStream, type StreamSet } from '../conv-core/conv-layout.js';
import { each } from '../conv-core/conv-loop.wgsl.js';

/** A staged tile's code (see stagedTile). */
export interface StagedTile {
  readonly decl: string;
  readonly loop: string;
  readonly load: (c0: string) => string;
  readonly store: string;
}

/**
 * One workgroup-memory tile staged by all `threads` threads, `count` elements:
 * `loop` loads and stores in one go; `load(c0)` (into per-thread registers,
 * unrolled) and `store` (registers to workgroup memory) are the two halves of
 * the software-pipelined form.
 */
export function stagedTile(t: {
  name: string;
  type: string;
  count: number;
  threads: number;
  /**
   * Declares the element's coordinates from its flat index expression `e`;
   * `n` (unrolled forms) is the thread's iteration, element `lid + n * threads`.
   */
  index: (e: string, n?: number) => string;
  /** The element's value for the step starting at channel `c0` (0 where out of range). */
  value: (c0: string) => string;
  store: (v: string) => string;
}): StagedTile {
  const per = Math.ceil(t.count / t.threads);
  const guard = (n: number, body: string): string =>
    (n + 1) * t.threads > t.count ? `if (lid + ${n * t.threads}u < ${t.count}u) { ${body} }` : `{ ${body} }`;
  return {
    decl: each(per, (n) => `var ${t.name}R${n}: ${t.type};`, ' '),
    loop: `for (var e = lid; e < ${t.count}u; e += ${t.threads}u) { ${t.index('e')} ${t.store(t.value('c0'))} }`,
    load: (c0) =>
      each(
        per,
        (n) => guard(n, `${t.index(`(lid + ${n * t.threads}u)`, n)} ${t.name}R${n} = ${t.value(c0)};`),
        '\n    ',
      ),
    store: each(
      per,
      (n) => guard(n, `${t.index(`(lid + ${n * t.threads}u)`, n)} ${t.store(`${t.name}R${n}`)}`),
      '\n    ',
    ),
  };
}

/**
 * A tile read from the per-stream binding `binding` (conv-layout.ts): its
 * loads are generated once per stream under a switch on `stream` (with one
 * stream, exactly `make(binding)`'s). `make(name)` builds the tile reading `name`.
 */
export function perStreamTile(
  streams: StreamSet,
  binding: string,
  make: (name: string) => StagedTile,
): StagedTile {
  const t = make(binding);
  if (streams.streams === 1) return t;
  return {
    ...t,
    loop: forEachStream(streams, (b) => make(b(binding)).loop),
    load: (c0) => forEachStream(streams, (b) => make(b(binding)).load(c0)),
  };
}

/**
 * The U tile of the dz kernels: U transposed to `[c][w][r/4]` vec4s
 * (lowRankUTransposeWgsl, binding `ut`), so a step's CC channels are one
 * contiguous run, staged into `uS[(j * W + w) * Q + q]` (zero past cEnd).
 * `streams`: the streams' transposes follow one another in `ut` (D·W·Q vec4s each).
 */
export const stagedUTile = (CC: number, W: number, Q: number, threads: number, streams = false) =>
  stagedTile({
    name: 'u',
    type: 'vec4<f32>',
    count: CC * W * Q,
    threads,
    index: (e) => `let ue = ${e}; let j = ue / ${W * Q}u;`,
    value: (c0) =>
      `select(vec4<f32>(0.0), ut[${streams ? `stream * u.D * ${W * Q}u + ` : ''}min((${c0}) * ${W * Q}u + ue, u.D * ${W * Q}u - 1u)], ${c0} + j < cEnd)`,
    store: (v) => `uS[ue] = ${v};`,
  });
