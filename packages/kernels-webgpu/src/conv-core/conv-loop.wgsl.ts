import {
  type BindingDecl,
  bindingDecls,
  type ConvLayout,
  contiguousLayout,
  forEachStream,
} from './conv-layout.js';

export { convUniforms } from './conv-layout.js';

/**
 * The token loop shared by the three convolution variants. One thread owns
 * one channel `c` and a chunk of `u.L` consecutive tokens of one sequence; it
 * walks the tokens in order, holding the last W inputs in registers
 * (`xw0` = x[t], `xw{w}` = x[t-w]), so each input is read once per chunk
 * plus a W-1 warm-up. A variant plugs in how the taps `k0..k{W-1}` of token t
 * are made ({@link TapSource}). Everything accumulates in f32.
 *
 * Backward walks the same chunk plus W-1 tokens of look-ahead and scatters
 * `g[t] * k_w[t]` into a ring `p0..p{W-1}` of pending dx rows (`p{j}` belongs
 * to token t-j): a row is complete, and written, once the walk has passed
 * t+W-1. Reductions over tokens (dW, dS, dbias, dU) accumulate per thread and
 * are written as per-chunk partials `[numChunks, rows, D]`, summed by a second
 * deterministic pass; no atomics, so results are bitwise reproducible.
 *
 * Where x, dx and (per stream) dy and y live, and how many streams one
 * dispatch covers, is the {@link ConvLayout} (conv-layout.ts; default:
 * tensors of their own, one stream).
 */
export interface ConvLoopParams {
  readonly dtype: 'f32' | 'f16';
  /** Taps, 1..8 (unrolled). */
  readonly W: number;
  /** Packed documents: a docStart `[B, T]` input masks taps that would cross a document start. */
  readonly docs: boolean;
  /** Adds x to y (dx gets dy). */
  readonly residual: boolean;
  /** Threads per workgroup, along channels. */
  readonly workgroup: number;
  /**
   * How many tokens ahead a thread's per-token loads are issued (default 1).
   * Deeper prefetch keeps more loads in flight per thread: with a few warps
   * per scheduler, one token of work does not cover a DRAM round trip.
   */
  readonly prefetch?: number;
  /**
   * Stage x (and dy in the backward) in workgroup memory this many tokens at
   * a time (0 or absent: per-thread prefetch). At each block start every
   * thread issues its column's loads for the whole block back to back (no
   * branches, indices clamped), so a block's worth of loads is in flight at
   * once whatever the compiler does with a register prefetch. Shares the
   * block (and its size) with a variant's `staged` values.
   */
  readonly stageX?: number;
  /**
   * Software-pipelined staging: the next block's x/dy (and the variant's
   * staged values) are loaded into registers while this block is walked,
   * and stored to workgroup memory at the next block start, so the global
   * loads overlap the arithmetic instead of stalling the workgroup between
   * two barriers. Costs one register per staged value per thread.
   */
  readonly pipelineStage?: boolean;
}

/** Storage inputs and outputs a variant adds, and the code it plugs in (names as in the skeleton). */
export interface TapSource {
  /** Pipeline-key fragment naming the variant's compile-time parameters. */
  readonly key: string;
  /** Read-only inputs after x, in binding order: [name, element type]. */
  readonly inputs: readonly (readonly [string, string])[];
  /** Backward-only extra outputs after dx, in binding order. */
  readonly gradOutputs: readonly (readonly [string, string])[];
  /** Per-thread setup after `c` is known (loads of per-channel parameters into registers). */
  readonly setup: string;
  /** Forward only: extra outputs after y, in binding order, and code after `setup` that writes them. */
  readonly forwardOutputs?: readonly (readonly [string, string])[];
  readonly forwardSetup?: string;
  /**
   * Raw per-token values the variant loads (e.g. the token's z), prefetched one
   * token ahead like x and dy: `[name, WGSL type]`; `taps` reads them by name.
   */
  readonly tokenVars?: readonly (readonly [string, string])[];
  /** Code loading the token vars of flat token `tok` into `${prefix}<name>`. */
  readonly loadToken?: (tok: string, prefix: string) => string;
  /**
   * Per-token values staged in workgroup memory, `block` tokens at a time,
   * by all threads of the workgroup together (every thread of a workgroup
   * walks the same tokens): `decl` declares the workgroup array; `fill` runs
   * on every thread with `sb0` (first flat token of the block) and `nb`
   * (tokens in it) and must fill the array using `lid`; `taps` reads it at
   * `tok - sb0`. Why: one shared read serves the whole workgroup instead of
   * each thread issuing its own (broadcast) global loads.
   */
  readonly staged?: {
    readonly decl: string;
    readonly block: number;
    readonly fill: string;
    /**
     * The same staging as a flat copy, for the pipelined form: workgroup array
     * `name[e] = type(read(sb0 + e / perToken, e % perToken))` for e < block * perToken.
     */
    readonly tile: {
      readonly name: string;
      readonly type: string;
      /** The read of value `col` of token row `row` (row: a call expression), e.g. `zb[row * 4u + col]`. */
      readonly read: (row: string, col: string) => string;
      readonly perToken: number;
    };
  };
  /** Per-token code defining `k0..k{W-1}` (f32) for flat token `tok`; may use `ds` (i32 doc start). */
  readonly taps: string;
  /** Forward: code updating `acc` (the conv sum) before the residual. */
  readonly epilogue?: string;
  /** Backward: code turning `g` (= dy) into the gradient of the conv sum; may use `k*`, `xw*`, `m*`. */
  readonly preGradient?: string;
  /** Backward, tokens the thread owns: declarations before the loop. */
  readonly accumulators?: string;
  /** Backward, tokens the thread owns: code using `dK0..dK{W-1}` (= g * x[t-w], masked) and `g`. */
  readonly consume?: string;
  /** Backward, after the walk: writes of per-chunk partials (`chunk` is the chunk index); runs only for live channels. */
  readonly finish?: string;
  /** WGSL extensions the variant's code needs (e.g. `subgroups`). */
  readonly enables?: readonly string[];
  /** Whether the backward needs x (for dK or an activation); dx alone does not. */
  readonly backwardNeedsX: boolean;
  /** Whether the backward computes dx (default true); without it there is no look-ahead and no dx binding. */
  readonly backwardDx?: boolean;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
export const each = (n: number, line: (i: number) => string, sep = '\n    '): string =>
  range(n).map(line).join(sep);

const header = (p: ConvLoopParams, s: TapSource, l: ConvLayout): string =>
  `${[...(p.dtype === 'f16' ? ['f16'] : []), ...(s.enables ?? [])].map((e) => `enable ${e};\n`).join('')}${l.uniforms.wgsl}${s.staged ? `\n${s.staged.decl}` : ''}`;

/**
 * Thread coordinates: channel `c`, chunk, sequence row start and the chunk's
 * token range. Threads past the last channel stay (reading channel D-1, writing
 * nothing: \`live\` is false) so that a workgroup's control flow is uniform,
 * as subgroup operations in a variant's code require.
 */
const coordinates = (p: ConvLoopParams, l: ConvLayout): string => {
  const prelude = l.prelude('wid.x');
  const block = l.block('wid.x');
  return `
  let chunk = wid.y + wid.z * u.gridX;
  if (chunk >= u.numChunks) { return; }${prelude ? `\n  ${prelude}` : ''}
  let live = ${block} * ${p.workgroup}u + lid < u.D;
  let c = min(${block} * ${p.workgroup}u + lid, u.D - 1u);
  let seq = chunk / u.chunksPerSeq;
  let t0 = (chunk % u.chunksPerSeq) * u.L;
  let t1 = min(t0 + u.L, u.T);
  let row = seq * u.T;`;
};

/** Masks m_w = 1 when tap w of token t stays in the document (t - w >= docStart), else 0. */
const masks = (p: ConvLoopParams): string =>
  p.docs
    ? each(p.W, (w) => `let m${w} = select(0.0, 1.0, i32(t) - ${w} >= ds);`)
    : `let ds = 0;\n    ${each(p.W, (w) => `let m${w} = 1.0;`)}`;

/**
 * Per-token loads, issued one token ahead: the loop body works on registers
 * loaded during the previous iteration, so a thread has the next token's
 * memory requests in flight while it computes (latency hiding at low occupancy).
 */
interface Prefetch {
  readonly x: boolean;
  readonly dy: boolean;
}
/** Index of channel `c` of token row `row` in y and dy (per-stream tensors of their own, in every layout). */
const yIndex = (row: string): string => `${row} * u.D + c`;
/** Prefetch slot i of register `name` (slot 0 is the next token to take). */
const slot = (name: string, i: number): string => `${name}_${i}`;
const prefetchVars = (p: ConvLoopParams, s: TapSource, f: Prefetch): (readonly [string, string])[] => [
  ...(f.x ? [['nx', 'f32'] as const] : []),
  ...(f.dy ? [['ng', 'f32'] as const] : []),
  ...(p.docs ? [['nds', 'i32'] as const] : []),
  ...(s.tokenVars ?? []).map(([n, t]) => [`n_${n}`, t] as const),
];
const depth = (p: ConvLoopParams): number => p.prefetch ?? 1;
const prefetchDecls = (p: ConvLoopParams, s: TapSource, f: Prefetch): string =>
  prefetchVars(p, s, f)
    .flatMap(([n, t]) => Array.from({ length: depth(p) }, (_, i) => `var ${slot(n, i)}: ${t};`))
    .join('\n  ');
/** Loads flat token `tok` into prefetch slot `i`. */
const prefetchLoads = (
  p: ConvLoopParams,
  s: TapSource,
  l: ConvLayout,
  f: Prefetch,
  tok: string,
  i: number,
): string =>
  [
    f.x ? `${slot('nx', i)} = f32(xb[${l.xIndex(`(${tok})`)}]);` : '',
    f.dy ? forEachStream(l, (b) => `${slot('ng', i)} = f32(${b('gb')}[${yIndex(`(${tok})`)}]);`) : '',
    p.docs ? `${slot('nds', i)} = db[${tok}];` : '',
    s.loadToken ? s.loadToken(tok, `@${i}@`) : '',
  ]
    .join('\n    ')
    // loadToken writes `${prefix}<name>`: route it to the slot.
    .replace(new RegExp(`@${i}@(\\w+)`, 'g'), (_, n: string) => slot(`n_${n}`, i));
/** Takes slot 0 into the names the body reads, and shifts the ring down by one. */
const prefetchTake = (p: ConvLoopParams, s: TapSource, f: Prefetch): string => {
  const take = [
    f.x ? `let xt = ${slot('nx', 0)};` : '',
    f.dy ? `let dyv = ${slot('ng', 0)};` : '',
    p.docs ? `let ds = ${slot('nds', 0)};` : '',
    ...(s.tokenVars ?? []).map(([n]) => `let ${n} = ${slot(`n_${n}`, 0)};`),
  ];
  const shift = prefetchVars(p, s, f).flatMap(([n]) =>
    Array.from({ length: depth(p) - 1 }, (_, i) => `${slot(n, i)} = ${slot(n, i + 1)};`),
  );
  return [...take, ...shift].join('\n    ');
};
/** Tokens per staged block (x/dy staging and the variant's `staged` values share it), 0 when nothing is staged. */
const blockSize = (p: ConvLoopParams, s: TapSource): number => {
  if (p.stageX && s.staged && s.staged.block !== p.stageX)
    throw new Error(`conv loop: staged block ${s.staged.block} differs from stageX ${p.stageX}`);
  return p.stageX || s.staged?.block || 0;
};
/** Which of x and dy the loop stages (the rest is prefetched per thread). */
const stagedOf = (p: ConvLoopParams, f: Prefetch): Prefetch => ({
  x: !!p.stageX && f.x,
  dy: !!p.stageX && f.dy,
});
/** Workgroup arrays of the x/dy staging: [block token][thread]. */
const stageDecls = (p: ConvLoopParams, f: Prefetch): string => {
  const st = stagedOf(p, f);
  const n = (p.stageX ?? 0) * p.workgroup;
  return [
    st.x ? `var<workgroup> xsh: array<f32, ${n}>;` : '',
    st.dy ? `var<workgroup> gsh: array<f32, ${n}>;` : '',
  ]
    .filter(Boolean)
    .join('\n');
};
/** Refills the staged block every `SB` tokens (uniform control flow: the whole workgroup walks the same t). */
const stageBlock = (p: ConvLoopParams, s: TapSource, l: ConvLayout, f: Prefetch, tStop: string): string => {
  const SB = blockSize(p, s);
  if (!SB) return '';
  const st = stagedOf(p, f);
  const col = (arr: string, buf: string, index: (row: string) => string): string =>
    each(
      SB,
      (i) => `${arr}[${i * p.workgroup}u + lid] = f32(${buf}[${index(`min(sb0 + ${i}u, last)`)}]);`,
      '\n      ',
    );
  return `if ((t - t0) % ${SB}u == 0u) {
      workgroupBarrier();
      sb0 = tok;
      let nb = min(${SB}u, ${tStop} - t);
      ${st.x || st.dy ? `let last = row + ${tStop} - 1u;` : ''}
      ${s.staged?.fill ?? ''}
      ${st.x ? col('xsh', 'xb', l.xIndex) : ''}
      ${st.dy ? forEachStream(l, (b) => col('gsh', b('gb'), yIndex), '\n      ') : ''}
      workgroupBarrier();
    }`;
};
/**
 * The pipelined form of stageBlock: declarations and the first block's
 * register loads before the loop (`prologue`), and at each block start the
 * store of the registers, then the loads of the next block (`refill`).
 */
const pipelinedStage = (
  p: ConvLoopParams,
  s: TapSource,
  l: ConvLayout,
  f: Prefetch,
  tStop: string,
): { prologue: string; refill: string } => {
  const SB = blockSize(p, s);
  const st = stagedOf(p, f);
  const wg = p.workgroup;
  const tile = s.staged?.tile;
  const zn = tile ? SB * tile.perToken : 0;
  const zk = Math.ceil(zn / wg);
  const guard = (k: number, body: string): string =>
    (k + 1) * wg > zn ? `if (lid + ${k * wg}u < ${zn}u) { ${body} }` : `{ ${body} }`;
  const cols = [
    ...(st.x ? [['xsh', 'xb', 'xr'] as const] : []),
    ...(st.dy ? [['gsh', 'gb', 'gr'] as const] : []),
  ];
  // x is one binding in the layout's indexing; dy is per stream.
  const colLoads = (sb: string, buf: string, r: string): string => {
    const load = (b: string, index: (row: string) => string): string =>
      each(SB, (i) => `${r}${i} = f32(${b}[${index(`min(${sb} + ${i}u, last)`)}]);`, '\n      ');
    return buf === 'xb' ? load(buf, l.xIndex) : forEachStream(l, (b) => load(b(buf), yIndex), '\n      ');
  };
  const loads = (sb: string): string =>
    [
      ...(tile
        ? [
            each(
              zk,
              (k) =>
                guard(
                  k,
                  `let e = lid + ${k * wg}u; zr${k} = ${tile.type}(${tile.read(`min(${sb} + e / ${tile.perToken}u, last)`, `e % ${tile.perToken}u`)});`,
                ),
              '\n      ',
            ),
          ]
        : []),
      ...cols.map(([, buf, r]) => colLoads(sb, buf, r)),
    ].join('\n      ');
  const stores = [
    ...(tile ? [each(zk, (k) => guard(k, `${tile.name}[lid + ${k * wg}u] = zr${k};`), '\n      ')] : []),
    ...cols.map(([arr, , r]) => each(SB, (i) => `${arr}[${i * wg}u + lid] = ${r}${i};`, '\n      ')),
  ].join('\n      ');
  const decls = [
    ...(tile ? [each(zk, (k) => `var zr${k}: ${tile.type};`, ' ')] : []),
    ...cols.map(([, , r]) => each(SB, (i) => `var ${r}${i}: f32;`, ' ')),
  ].join('\n  ');
  return {
    prologue: `let last = row + ${tStop} - 1u;
  ${decls}
  {
      ${loads('row + t0')}
  }`,
    refill: `if ((t - t0) % ${SB}u == 0u) {
      workgroupBarrier();
      sb0 = tok;
      ${stores}
      workgroupBarrier();
      if (t + ${SB}u < ${tStop}) {
      ${loads(`tok + ${SB}u`)}
      }
    }`,
  };
};

/** Reads of the staged x/dy of token `tok`. */
const stagedTake = (p: ConvLoopParams, f: Prefetch): string => {
  const st = stagedOf(p, f);
  const at = `(tok - sb0) * ${p.workgroup}u + lid`;
  return [st.x ? `let xt = xsh[${at}];` : '', st.dy ? `let dyv = gsh[${at}];` : ''].join('\n    ');
};

/** The loop over [t0, tStop) with loads issued `depth` tokens ahead (or staged per block). */
const tokenLoop = (
  p: ConvLoopParams,
  s: TapSource,
  l: ConvLayout,
  f: Prefetch,
  tStop: string,
  body: string,
): string => {
  const P = depth(p);
  const st = stagedOf(p, f);
  // What stays a per-thread prefetch.
  const pf: Prefetch = { x: f.x && !st.x, dy: f.dy && !st.dy };
  const piped = p.pipelineStage && blockSize(p, s) ? pipelinedStage(p, s, l, f, tStop) : undefined;
  return `
  ${prefetchDecls(p, s, pf)}
  ${blockSize(p, s) ? 'var sb0 = 0u;' : ''}
  ${piped?.prologue ?? ''}
  ${each(P, (i) => `if (t0 + ${i}u < ${tStop}) {\n    ${prefetchLoads(p, s, l, pf, `row + t0 + ${i}u`, i)}\n  }`, '\n  ')}
  for (var t = t0; t < ${tStop}; t++) {
    let tok = row + t;
    ${piped ? piped.refill : stageBlock(p, s, l, f, tStop)}
    ${stagedTake(p, f)}
    ${prefetchTake(p, s, pf)}
    if (t + ${P}u < ${tStop}) {
      ${prefetchLoads(p, s, l, pf, `tok + ${P}u`, P - 1)}
    }
    ${body}
  }`;
};

/** Loads x[t0-1..t0-W+1] so that the first shift leaves xw{w} = x[t0-w]. */
const warmup = (p: ConvLoopParams, l: ConvLayout): string =>
  each(p.W, (w) =>
    w === p.W - 1
      ? `var xw${w} = 0.0;`
      : `var xw${w} = 0.0;\n    if (t0 >= ${w + 1}u) { xw${w} = f32(xb[${l.xIndex(`(row + t0 - ${w + 1}u)`)}]); }`,
  );

const shiftIn = (p: ConvLoopParams): string =>
  `${each(p.W - 1, (j) => `xw${p.W - 1 - j} = xw${p.W - 2 - j};`)}\n    xw0 = xt;`;

/** y = Σ_w k_w · x[t-w] (masked) [+ epilogue] [+ x], in `layout` (default: tensors of their own). */
export function convForwardWgsl(
  p: ConvLoopParams,
  s: TapSource,
  layout: ConvLayout = contiguousLayout,
): string {
  const l = layout;
  const bindings: BindingDecl[] = [
    ['xb', p.dtype, false],
    ...s.inputs.map(([n, t]): BindingDecl => [n, t, false]),
    ...(p.docs ? [['db', 'i32', false] as const] : []),
    ['yb', p.dtype, true],
    ...(s.forwardOutputs ?? []).map(([n, t]): BindingDecl => [n, t, true]),
  ];
  return `${header(p, s, l)}
${bindingDecls(l, bindings)}
${stageDecls(p, { x: true, dy: false })}

@compute @workgroup_size(${p.workgroup})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${coordinates(p, l)}
  ${s.setup}
  ${s.forwardSetup ?? ''}
  ${warmup(p, l)}
  ${tokenLoop(
    p,
    s,
    l,
    { x: true, dy: false },
    't1',
    `${shiftIn(p)}
    ${masks(p)}
    ${s.taps}
    var acc = ${each(p.W, (w) => `k${w} * xw${w} * m${w}`, ' + ')};
    ${s.epilogue ?? ''}
    ${p.residual ? 'acc += xw0;' : ''}
    if (live) { ${forEachStream(l, (b) => `${b('yb')}[${yIndex('tok')}] = ${p.dtype}(acc);`, '\n      ')} }`,
  )}
}`;
}

/**
 * dx (ring of pending rows, unless the variant turns it off), and the
 * variant's per-token gradient consumers, in `layout` (default: tensors of their own).
 */
export function convBackwardWgsl(
  p: ConvLoopParams,
  s: TapSource,
  layout: ConvLayout = contiguousLayout,
): string {
  const l = layout;
  const W = p.W;
  const dx = s.backwardDx ?? true;
  const bindings: BindingDecl[] = [
    ['gb', p.dtype, false],
    ['xb', p.dtype, false],
    ...s.inputs.map(([n, t]): BindingDecl => [n, t, false]),
    ...(p.docs ? [['db', 'i32', false] as const] : []),
    ...(dx ? [['dxb', p.dtype, true] as const] : []),
    ...s.gradOutputs.map(([n, t]): BindingDecl => [n, t, true]),
  ];
  const needX = s.backwardNeedsX;
  const ring = dx
    ? `// Row t-W is complete: every token that reads it (t-W .. t-1) has been walked.
    if (live && t >= t0 + ${W}u) { dxb[${l.xIndex(`(tok - ${W}u)`)}] = ${p.dtype}(p${W - 1}); }
    ${each(W - 1, (j) => `p${W - 1 - j} = p${W - 2 - j};`)}
    p0 = ${p.residual ? 'dyv' : '0.0'};
    ${each(W, (w) => `p${w} += g * k${w} * m${w};`)}`
    : '';
  const flush = dx
    ? `// Flush the rows still pending: p{j} is token tEnd-1-j.
  ${each(W, (j) => `if (live && tEnd >= ${j + 1}u && tEnd - ${j + 1}u >= t0 && tEnd - ${j + 1}u < t1) { dxb[${l.xIndex(`(row + tEnd - ${j + 1}u)`)}] = ${p.dtype}(p${j}); }`)}`
    : '';
  return `${header(p, s, l)}
${bindingDecls(l, bindings)}
${stageDecls(p, { x: needX, dy: true })}

@compute @workgroup_size(${p.workgroup})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${coordinates(p, l)}
  let tEnd = ${dx ? `min(t1 + ${W - 1}u, u.T)` : 't1'};
  ${s.setup}
  ${needX ? warmup(p, l) : each(W, (w) => `let xw${w} = 0.0;`)}
  ${dx ? each(W, (j) => `var p${j} = 0.0;`) : ''}
  ${s.accumulators ?? ''}
  ${tokenLoop(
    p,
    s,
    l,
    { x: needX, dy: true },
    'tEnd',
    `${needX ? shiftIn(p) : ''}
    ${masks(p)}
    ${s.taps}
    var g = dyv;
    ${s.preGradient ?? ''}
    ${ring}
    if (t < t1) {
      ${each(W, (w) => `let dK${w} = g * xw${w} * m${w};`, '\n      ')}
      ${s.consume ?? ''}
    }`,
  )}
  ${flush}
  if (live) {
    ${s.finish ?? ''}
  }
}`;
}

/** Pipeline-key fragment of the skeleton's parameters (a variant's key adds its layout's `key`). */
export const convLoopKey = (p: ConvLoopParams): string =>
  `${p.dtype}|W=${p.W}|docs=${p.docs ? 1 : 0}|res=${p.residual ? 1 : 0}|wg=${p.workgroup}|pf=${depth(p)}|sx=${p.stageX ?? 0}${p.pipelineStage ? '|piped' : ''}`;
