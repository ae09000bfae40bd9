import { rowTileLoads } from '../common/tile-loads.js';
import { Uniforms } from '../common/uniforms.js';

/**
 * Fused causal attention, f32 arithmetic (FlashAttention-2 structure on SIMT
 * threads, register-tiled). A workgroup owns a block of `4·TY` rows (queries
 * for the forward and dq, keys for dk/dv) and streams tiles of `4·TX` rows of
 * the other side through workgroup memory. Thread (ty, tx) computes a 4×4
 * micro-tile of the score block, rows `ty + TY·r` and columns `tx + TX·c`,
 * reading both operands as vec4 (each shared-memory read feeds 16 FMAs), and
 * owns 4 rows × `NC` vec4 columns of the output (head dims `4·(tx + TX·c)`).
 * Probabilities pass through workgroup memory between the two products.
 * The forward keeps a running max (reduced across the TX threads of a row) and
 * per-thread partial sums (online softmax) and saves the row logsumexp; the
 * backward recomputes probabilities from it: `p = exp(s - lse)`,
 * `ds = p (dO·v - Δ)`, `Δ = dO·O` (computed by the dq kernel).
 * Query i sits at key position `kvOffset + i` and sees keys
 * `docStart[b, i] ..= kvOffset + i`. GQA: query head h reads kv head h / group.
 * Rows are stored `D4 = ⌈dh/4⌉` vec4 wide with the vec4 column XOR-swizzled
 * by the row, so the 8 rows a warp reads at once hit different banks.
 */
export interface AttentionKernelParams {
  readonly dtype: 'f32' | 'f16';
  readonly dh: number;
  readonly docs: boolean;
  /** Thread rows: the workgroup's own block is `4·TY` rows. */
  readonly ty: number;
  /** Thread columns: streamed tiles are `4·TX` rows (4 or 8 for the row reductions). */
  readonly tx: number;
  /** Forward only: K and V share one buffer (V is staged after the scores), for 32 KiB devices. */
  readonly shareKV?: boolean;
  /**
   * dk/dv only: two thread groups of `TX·TY` (one warp-aligned half each): the
   * first computes P and dv, the second dP and dk, so a workgroup runs twice
   * the threads on the same workgroup memory (more warps per SM).
   */
  readonly split?: boolean;
  /**
   * Grid `(B·H, blocks)` instead of `(blocks, B·H)`, each head's blocks of most
   * tiles dispatched first: under the causal mask work per block varies up to
   * T/block times, and the heaviest last make a long tail.
   */
  readonly heavyFirst?: boolean;
  /**
   * The next streamed tile's global loads are issued to registers before the
   * current tile's products (their latency hidden behind them).
   */
  readonly prefetch?: boolean;
}

export type AttentionStage = 'fwd' | 'dq' | 'dkdv';

export const attentionUniforms = new Uniforms([
  ['H', 'u32'],
  ['Hkv', 'u32'],
  ['Tq', 'u32'],
  ['Tk', 'u32'],
  ['kvOffset', 'u32'],
  ['group', 'u32'],
  ['scale', 'f32'],
]);

const d4Of = (dh: number): number => Math.ceil(dh / 4);

/** Bytes of workgroup memory a stage's kernel declares. */
export function attentionSharedBytes(stage: AttentionStage, p: AttentionKernelParams): number {
  const D4 = d4Of(p.dh);
  const A = 4 * p.ty * D4; // vec4s of one own-block operand
  const Bt = 4 * p.tx * D4; // vec4s of one streamed operand
  const P = Math.max(4 * p.tx * p.ty, p.ty * p.tx); // probabilities (vec4 per 4 rows) / row partials
  const vec4s =
    stage === 'fwd'
      ? A + (p.shareKV ? 1 : 2) * Bt + P
      : stage === 'dq'
        ? 2 * A + Bt + Math.max(Bt, P)
        : 2 * A + 2 * Bt + 2 * 4 * p.tx * p.ty;
  return vec4s * 16;
}

/** Workgroup grid `[x, y]` for `blocks` row blocks of `heads` heads. */
export const attentionGrid = (p: AttentionKernelParams, blocks: number, heads: number): [number, number] =>
  p.heavyFirst ? [heads, blocks] : [blocks, heads];

/** WGSL: the workgroup's (batch, head) index. */
const gridHeads = (p: AttentionKernelParams) => (p.heavyFirst ? 'wid.x' : 'wid.y');

/**
 * WGSL: the workgroup's row block. Heavy first, the blocks with the most tiles
 * (the last query blocks, the first key blocks) of every head come first.
 */
const gridBlock = (p: AttentionKernelParams, lastHeaviest: boolean) =>
  p.heavyFirst ? (lastHeaviest ? '(nwg.y - 1u - wid.y)' : 'wid.y') : 'wid.x';

/** Threads per workgroup. */
export const attentionThreads = (p: AttentionKernelParams): number => p.tx * p.ty * (p.split ? 2 : 1);

export const attentionKey = (stage: AttentionStage, p: AttentionKernelParams): string =>
  `causalAttention.${stage}|${p.dtype}|dh=${p.dh}|docs=${p.docs ? 1 : 0}|ty=${p.ty}|tx=${p.tx}|share=${p.shareKV ? 1 : 0}|split=${p.split ? 1 : 0}|pf=${p.prefetch ? 1 : 0}|heavy=${p.heavyFirst ? 1 : 0}`;

const head = (
  p: AttentionKernelParams,
  bindings: readonly (readonly [string, string, boolean])[],
): string => {
  const D4 = d4Of(p.dh);
  const pow2 = (D4 & (D4 - 1)) === 0;
  return `${p.dtype === 'f16' ? 'enable f16;\n' : ''}${attentionUniforms.wgsl}
${bindings
  .filter(([n]) => n !== 'db' || p.docs)
  .map(
    ([n, t, w], i) =>
      `@group(0) @binding(${i + 1}) var<storage, ${w ? 'read_write' : 'read'}> ${n}: array<${t}>;`,
  )
  .join('\n')}
const DH = ${p.dh}u;
const D4 = ${D4}u;
const TX = ${p.tx}u;
const TY = ${p.ty}u;
const NT = ${p.tx * p.ty}u;
/** vec4 slot of (row, vec4 column): the column XOR-swizzled by the row. */
fn sw(row: u32, c: u32) -> u32 { return row * D4 + (c ^ (row & ${pow2 ? Math.min(D4, 8) - 1 : 0}u)); }`;
};

const R4 = [0, 1, 2, 3];

/** A tile copy global → workgroup memory in two halves: register loads, then stores. */
interface Staging {
  /** Declares the thread's registers `x0..`. */
  readonly decl: string;
  /** Issues every global load of the thread (rows past the limit load 0). */
  readonly load: string;
  /** Stores the registers into workgroup memory. */
  readonly store: string;
}

/**
 * Copies `rows` rows (row `base + r`, valid below `limit`, at `(off + row)·DH`
 * of `src`) into `dst`, times `scale`; rows past `limit` and dims past DH are 0.
 * `x` names the registers (distinct per operand when loads are kept in flight).
 */
function staging(
  dst: string,
  src: string,
  rows: number,
  base: string,
  limit: string,
  off: string,
  scale: string,
  p: AttentionKernelParams,
  x = 'x',
): Staging {
  const full = p.dh % 4 === 0;
  const D4 = d4Of(p.dh);
  const nt = attentionThreads(p);
  const per = Math.ceil((rows * D4) / nt);
  const loads = R4.map((k) =>
    full ? `f32(${src}[at + ${k}u])` : `select(0.0, f32(${src}[min(at + ${k}u, last)]), c * 4u + ${k}u < DH)`,
  ).join(', ');
  const idx = Array.from({ length: per }, (_, t) => t);
  const checked = idx
    .map(
      (t) => `${x}${t} = vec4<f32>(0.0);
    {
      let e = lid + ${t * nt}u;
      let c = e % D4;
      let row = ${base} + e / D4;
      if (e < ${rows * D4}u && row < ${limit}) {
        let at = (${off} + row) * DH + c * 4u;${full ? '' : `\n        let last = (${off} + row) * DH + DH - 1u;`}
        ${x}${t} = vec4<f32>(${loads});
      }
    }`,
    )
    .join('\n    ');
  // A tile wholly below the limit (all but the last) loads without row checks (rowTileLoads).
  const exact = (rows * D4) % nt === 0;
  const unchecked = idx
    .map(
      (t) =>
        `{ let e = lid + ${t * nt}u; let at = (${off} + ${base} + e / D4) * DH + (e % D4) * 4u; ${x}${t} = vec4<f32>(${loads}); }`,
    )
    .join('\n    ');
  return {
    decl: idx.map((t) => `var ${x}${t}: vec4<f32>;`).join(' '),
    load: full && exact ? rowTileLoads(base, rows, limit, unchecked, checked) : checked,
    store: idx
      .map(
        (t) =>
          `{ let e = lid + ${t * nt}u; if (e < ${rows * D4}u) { ${dst}[sw(e / D4, e % D4)] = ${x}${t}${scale}; } }`,
      )
      .join('\n    '),
  };
}

/** `staging` in one block. Every load of the thread is issued before the first store, so their latencies overlap. */
function stage(
  dst: string,
  src: string,
  rows: number,
  base: string,
  limit: string,
  off: string,
  scale: string,
  p: AttentionKernelParams,
): string {
  const st = staging(dst, src, rows, base, limit, off, scale, p);
  return `{
    ${st.decl}
    ${st.load}
    ${st.store}
    }`;
}

/** `NC` output vec4 columns per thread; a guard where TX·NC overshoots D4. */
const ncOf = (p: AttentionKernelParams) => Math.ceil(d4Of(p.dh) / p.tx);
const colGuard = (p: AttentionKernelParams, c: string) =>
  ncOf(p) * p.tx > d4Of(p.dh) ? `${c} < D4` : 'true';

/** Declares `name0..3` (score micro-tile rows, vec4 over the 4 columns) zeroed. */
const tile = (name: string) => R4.map((r) => `var ${name}${r} = vec4<f32>(0.0);`).join(' ');

/**
 * `acc_r[c] += dot(A[row r], B[col c])` over the head dims for each pair of
 * (own-block array, streamed array, accumulator).
 */
function scores(pairs: readonly (readonly [string, string, string])[]): string {
  const loads = pairs
    .flatMap(([a, b], k) => [
      ...R4.map((r) => `let a${k}${r} = ${a}[sw(ty + ${r}u * TY, c4)];`),
      ...R4.map((c) => `let b${k}${c} = ${b}[sw(tx + ${c}u * TX, c4)];`),
    ])
    .join('\n      ');
  const fmas = pairs
    .flatMap(([, , acc], k) =>
      R4.flatMap((r) =>
        R4.map(
          (d) =>
            `${acc}${r} = fma(vec4<f32>(a${k}${r}[${d}]), vec4<f32>(${R4.map((c) => `b${k}${c}[${d}]`).join(', ')}), ${acc}${r});`,
        ),
      ),
    )
    .join('\n      ');
  return `for (var c4 = 0u; c4 < D4; c4++) {
      ${loads}
      ${fmas}
    }`;
}

/** Declares the 4×NC output accumulators `name_r_c` zeroed. */
const accDecl = (p: AttentionKernelParams, name: string) =>
  R4.flatMap((r) => Array.from({ length: ncOf(p) }, (_, c) => `var ${name}${r}_${c} = vec4<f32>(0.0);`)).join(
    ' ',
  );

/**
 * Output product over the streamed tile: `acc_r_c += P[j][row r] · X[j][col c]`
 * for each (probabilities array, streamed array, accumulator) triple.
 */
function outputProduct(
  p: AttentionKernelParams,
  rowsB: number,
  triples: readonly (readonly [string | ((slot: string) => string), string, string])[],
): string {
  const nc = ncOf(p);
  const body = triples
    .map(([pa, xa, acc], k) => {
      const pv = typeof pa === 'string' ? `${pa}[j * TY + ty]` : pa('j * TY + ty');
      const cols = Array.from({ length: nc }, (_, c) => {
        const fm = R4.map((r) => `${acc}${r}_${c} += pv${k}[${r}] * x;`).join(' ');
        const g = colGuard(p, `cc${c}`);
        return g === 'true'
          ? `{ let x = ${xa}[sw(j, cc${c})]; ${fm} }`
          : `if (${g}) { let x = ${xa}[sw(j, cc${c})]; ${fm} }`;
      });
      return `let pv${k} = ${pv};\n      ${cols.join('\n      ')}`;
    })
    .join('\n      ');
  return `for (var j = 0u; j < ${rowsB}u; j++) {
      ${body}
    }`;
}

const ccDecl = (p: AttentionKernelParams) =>
  Array.from({ length: ncOf(p) }, (_, c) => `let cc${c} = tx + ${c}u * TX;`).join(' ');

/** Writes accumulators `acc_r_c · mul` to `dst` at `(off + row)·DH` for rows below `limit`. */
function writeOut(
  p: AttentionKernelParams,
  dst: string,
  acc: string,
  base: string,
  limit: string,
  off: string,
  mul: (r: number) => string,
): string {
  const T = p.dtype;
  return R4.map((r) => {
    const cols = Array.from({ length: ncOf(p) }, (_, c) => {
      const comps = R4.map(
        (k) =>
          `if (cc${c} * 4u + ${k}u < DH) { ${dst}[at + cc${c} * 4u + ${k}u] = ${T}(${acc}${r}_${c}[${k}] * ${mul(r)}); }`,
      ).join(' ');
      return `if (${colGuard(p, `cc${c}`)}) { ${comps} }`;
    }).join('\n      ');
    return `{
      let row = ${base} + ty + ${r}u * TY;
      if (row < ${limit}) {
      let at = (${off} + row) * DH;
      ${cols}
      }
    }`;
  }).join('\n    ');
}

/**
 * Sum (or max) across the TX threads of each row of values `v_r` through
 * `red` (vec4 array of at least `TY·TX` floats); the caller fences before.
 * Returns statements defining `name` (vec4 over r) after a barrier.
 */
function rowReduce(
  red: string,
  vals: readonly string[],
  name: string,
  op: 'max' | 'sum',
  p: AttentionKernelParams,
): string {
  const writes = R4.map(
    (r) => `{ let e = (ty + ${r}u * TY) * TX + tx; ${red}[e >> 2u][e & 3u] = ${vals[r]}; }`,
  ).join(' ');
  const parts = p.tx / 4;
  const reads = R4.map((r) => {
    const vs = Array.from({ length: parts }, (_, k) => `${red}[(ty + ${r}u * TY) * (TX / 4u) + ${k}u]`);
    const join = (x: string) =>
      op === 'max' ? `max(max(${x}.x, ${x}.y), max(${x}.z, ${x}.w))` : `(${x}.x + ${x}.y + ${x}.z + ${x}.w)`;
    const terms = vs.map(join);
    return op === 'max' ? terms.reduce((a, b) => `max(${a}, ${b})`) : terms.join(' + ');
  });
  return `${writes}
    workgroupBarrier();
    let ${name} = vec4<f32>(${reads.join(', ')});`;
}

/**
 * Runs the masking statements unless the tile is fully visible (or `orIf`
 * holds): no documents, every key `k0 .. k0 + nk` at or before the first
 * query's position and below Tk (rows past Tq repeat query Tq - 1).
 */
function maskUnlessVisible(
  p: AttentionKernelParams,
  k0: string,
  nk: number,
  q0: string,
  mask: string,
  orIf = '',
): string {
  if (p.docs) return mask;
  return `if (${orIf}${k0} + ${nk}u > u.kvOffset + ${q0} + 1u || ${k0} + ${nk}u > u.Tk) {
      ${mask}
    }`;
}

/** Forward: o `[B, H, Tq, dh]` and lse `[B, H, Tq]` (f32). Grid: `attentionGrid` of query blocks of 4·TY, B*H. */
export function attentionForwardWgsl(p: AttentionKernelParams): string {
  const BQ = 4 * p.ty;
  const BK = 4 * p.tx;
  const D4 = d4Of(p.dh);
  const vS = p.shareKV ? 'kS' : 'vS';
  const pSize = Math.max(BK * p.ty, (p.ty * p.tx) / 4 + 1);
  // Prefetch: tile k0 + BK's K (and unshared V) loads are issued before tile k0's P·V product,
  // a shared V's before tile k0's scores.
  const kT = staging('kS', 'kb', BK, 'nk0', 'u.Tk', 'kvh * u.Tk', '', p, 'xk');
  const vT = staging(vS, 'vb', BK, p.shareKV ? 'k0' : 'nk0', 'u.Tk', 'kvh * u.Tk', '', p, 'xv');
  const nextLoads = `${kT.load}${p.shareKV ? '' : `\n    ${vT.load}`}`;
  const valid = (r: number, c: number) =>
    `(k0 + tx + ${c}u * TX <= pos[${r}] && k0 + tx + ${c}u * TX >= first[${r}] && k0 + tx + ${c}u * TX < u.Tk)`;
  return `${head(p, [
    ['qb', p.dtype, false],
    ['kb', p.dtype, false],
    ['vb', p.dtype, false],
    ['db', 'i32', false],
    ['ob', p.dtype, true],
    ['lse', 'f32', true],
  ])}
var<workgroup> qS: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> kS: array<vec4<f32>, ${BK * D4}>;
${p.shareKV ? '' : `var<workgroup> vS: array<vec4<f32>, ${BK * D4}>;`}
var<workgroup> pS: array<vec4<f32>, ${pSize}>;

@compute @workgroup_size(${attentionThreads(p)})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let bh = ${gridHeads(p)};
  let b = bh / u.H;
  let h = bh % u.H;
  let kvh = b * u.Hkv + h / u.group;
  let tx = lid % TX;
  let ty = lid / TX;
  let q0 = ${gridBlock(p, true)} * ${BQ}u;
  ${stage('qS', 'qb', BQ, 'q0', 'u.Tq', 'bh * u.Tq', ' * u.scale', p)}
  var pos: array<u32, 4>;
  var first: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) {
    let i = min(q0 + ty + r * TY, u.Tq - 1u);
    pos[r] = u.kvOffset + i;
    first[r] = ${p.docs ? 'u32(max(db[b * u.Tq + i], 0))' : '0u'};
  }
  var m = vec4<f32>(-3.0e38);
  var l = vec4<f32>(0.0);
  ${ccDecl(p)}
  ${accDecl(p, 'o')}
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${BQ}u, u.Tq));
  ${
    p.prefetch
      ? `${kT.decl} ${vT.decl}
  { let nk0 = 0u; ${nextLoads} }`
      : ''
  }
  for (var k0 = 0u; k0 < kEnd; k0 += ${BK}u) {
    workgroupBarrier();
    ${p.prefetch ? kT.store : stage('kS', 'kb', BK, 'k0', 'u.Tk', 'kvh * u.Tk', '', p)}
    ${p.shareKV ? '' : p.prefetch ? vT.store : stage('vS', 'vb', BK, 'k0', 'u.Tk', 'kvh * u.Tk', '', p)}
    workgroupBarrier();
    ${p.prefetch && p.shareKV ? vT.load : ''}
    ${tile('s')}
    ${scores([['qS', 'kS', 's']])}
    ${maskUnlessVisible(
      p,
      'k0',
      BK,
      'q0',
      R4.map((r) =>
        R4.map((c) => `s${r}[${c}] = select(-3.0e38, s${r}[${c}], ${valid(r, c)});`).join(' '),
      ).join('\n      '),
    )}
    ${rowReduce(
      'pS',
      R4.map((r) => `max(max(s${r}.x, s${r}.y), max(s${r}.z, s${r}.w))`),
      'tileMax',
      'max',
      p,
    )}
    let mNew = max(m, tileMax);
    let corr = exp(m - mNew);
    m = mNew;
    ${R4.map((r) => `let p${r} = select(vec4<f32>(0.0), exp(s${r} - mNew[${r}]), s${r} > vec4<f32>(-1.0e38));`).join('\n    ')}
    l = l * corr + vec4<f32>(${R4.map((r) => `dot(p${r}, vec4<f32>(1.0))`).join(', ')});
    ${R4.flatMap((r) => Array.from({ length: ncOf(p) }, (_, c) => `o${r}_${c} *= corr[${r}];`)).join(' ')}
    workgroupBarrier();
    ${R4.map((c) => `pS[(tx + ${c}u * TX) * TY + ty] = vec4<f32>(p0[${c}], p1[${c}], p2[${c}], p3[${c}]);`).join('\n    ')}
    ${p.shareKV ? (p.prefetch ? vT.store : stage('kS', 'vb', BK, 'k0', 'u.Tk', 'kvh * u.Tk', '', p)) : ''}
    workgroupBarrier();
    ${p.prefetch ? `if (k0 + ${BK}u < kEnd) { let nk0 = k0 + ${BK}u; ${nextLoads} }` : ''}
    ${outputProduct(p, BK, [['pS', vS, 'o']])}
  }
  workgroupBarrier();
  ${rowReduce(
    'pS',
    R4.map((r) => `l[${r}]`),
    'lRow',
    'sum',
    p,
  )}
  let inv = 1.0 / lRow;
  ${writeOut(p, 'ob', 'o', 'q0', 'u.Tq', 'bh * u.Tq', (r) => `inv[${r}]`)}
  if (tx == 0u) {
    for (var r = 0u; r < 4u; r++) {
      let i = q0 + ty + r * TY;
      if (i < u.Tq) { lse[bh * u.Tq + i] = m[r] + log(lRow[r]); }
    }
  }
}`;
}

/**
 * dq `[B, H, Tq, dh]` and Δ = rowsum(dO ∘ O) `[B, H, Tq]` (f32).
 * Grid: `attentionGrid` of query blocks of 4·TY, B*H. V's buffer holds dS after the scores.
 */
export function attentionQueryGradWgsl(p: AttentionKernelParams): string {
  const BQ = 4 * p.ty;
  const BK = 4 * p.tx;
  const D4 = d4Of(p.dh);
  const nc = ncOf(p);
  const valid = (r: number, c: number) =>
    `(k0 + tx + ${c}u * TX <= pos[${r}] && k0 + tx + ${c}u * TX >= first[${r}] && k0 + tx + ${c}u * TX < u.Tk)`;
  // Δ partial over this thread's columns of O ∘ dO (rows past Tq read a clamped row).
  const deltaPart = R4.map((r) => {
    const cols = Array.from({ length: nc }, (_, c) => {
      const g = colGuard(p, `cc${c}`);
      const loads = R4.map(
        (k) => `select(0.0, f32(ob[min(at + cc${c} * 4u + ${k}u, at + DH - 1u)]), cc${c} * 4u + ${k}u < DH)`,
      ).join(', ');
      return `if (${g}) { dpart[${r}] += dot(gS[sw(ty + ${r}u * TY, cc${c})], vec4<f32>(${loads})); }`;
    }).join(' ');
    return `{ let at = (bh * u.Tq + min(q0 + ty + ${r}u * TY, u.Tq - 1u)) * DH; ${cols} }`;
  }).join('\n  ');
  // Prefetch: tile k0 + BK's loads, issued before tile k0's products.
  const kT = staging('kS', 'kb', BK, 'nk0', 'u.Tk', 'kvh * u.Tk', '', p, 'xk');
  const vT = staging('vS', 'vb', BK, 'nk0', 'u.Tk', 'kvh * u.Tk', '', p, 'xv');
  return `${head(p, [
    ['qb', p.dtype, false],
    ['kb', p.dtype, false],
    ['vb', p.dtype, false],
    ['ob', p.dtype, false],
    ['gb', p.dtype, false],
    ['lse', 'f32', false],
    ['db', 'i32', false],
    ['dqb', p.dtype, true],
    ['delta', 'f32', true],
  ])}
var<workgroup> qS: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> gS: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> kS: array<vec4<f32>, ${BK * D4}>;
var<workgroup> vS: array<vec4<f32>, ${Math.max(BK * D4, BK * p.ty, (p.ty * p.tx) / 4 + 1)}>;

@compute @workgroup_size(${attentionThreads(p)})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let bh = ${gridHeads(p)};
  let b = bh / u.H;
  let h = bh % u.H;
  let kvh = b * u.Hkv + h / u.group;
  let tx = lid % TX;
  let ty = lid / TX;
  let q0 = ${gridBlock(p, true)} * ${BQ}u;
  ${stage('qS', 'qb', BQ, 'q0', 'u.Tq', 'bh * u.Tq', ' * u.scale', p)}
  ${stage('gS', 'gb', BQ, 'q0', 'u.Tq', 'bh * u.Tq', '', p)}
  ${ccDecl(p)}
  workgroupBarrier();
  var dpart = vec4<f32>(0.0);
  ${deltaPart}
  ${rowReduce(
    'vS',
    R4.map((r) => `dpart[${r}]`),
    'dl',
    'sum',
    p,
  )}
  var pos: array<u32, 4>;
  var first: array<u32, 4>;
  var rowLse: vec4<f32>;
  for (var r = 0u; r < 4u; r++) {
    let i = min(q0 + ty + r * TY, u.Tq - 1u);
    pos[r] = u.kvOffset + i;
    first[r] = ${p.docs ? 'u32(max(db[b * u.Tq + i], 0))' : '0u'};
    rowLse[r] = lse[bh * u.Tq + i];
  }
  ${accDecl(p, 'dq')}
  let kEnd = min(u.Tk, u.kvOffset + min(q0 + ${BQ}u, u.Tq));
  ${
    p.prefetch
      ? `${kT.decl} ${vT.decl}
  { let nk0 = 0u; ${kT.load}
    ${vT.load} }`
      : ''
  }
  for (var k0 = 0u; k0 < kEnd; k0 += ${BK}u) {
    workgroupBarrier();
    ${p.prefetch ? kT.store : stage('kS', 'kb', BK, 'k0', 'u.Tk', 'kvh * u.Tk', '', p)}
    ${p.prefetch ? vT.store : stage('vS', 'vb', BK, 'k0', 'u.Tk', 'kvh * u.Tk', '', p)}
    workgroupBarrier();
    ${
      p.prefetch
        ? `if (k0 + ${BK}u < kEnd) { let nk0 = k0 + ${BK}u; ${kT.load}
    ${vT.load} }`
        : ''
    }
    ${tile('s')}
    ${tile('dp')}
    ${scores([
      ['qS', 'kS', 's'],
      ['gS', 'vS', 'dp'],
    ])}
    ${R4.map((r) => `var ds${r} = exp(s${r} - rowLse[${r}]) * (dp${r} - dl[${r}]);`).join('\n    ')}
    ${maskUnlessVisible(
      p,
      'k0',
      BK,
      'q0',
      R4.map(
        (r) =>
          `ds${r} = select(vec4<f32>(0.0), ds${r}, vec4<bool>(${R4.map((c) => valid(r, c)).join(', ')}));`,
      ).join('\n      '),
    )}
    workgroupBarrier();
    ${R4.map((c) => `vS[(tx + ${c}u * TX) * TY + ty] = vec4<f32>(ds0[${c}], ds1[${c}], ds2[${c}], ds3[${c}]);`).join('\n    ')}
    workgroupBarrier();
    ${outputProduct(p, BK, [['vS', 'kS', 'dq']])}
  }
  ${writeOut(p, 'dqb', 'dq', 'q0', 'u.Tq', 'bh * u.Tq', () => 'u.scale')}
  if (tx == 0u) {
    for (var r = 0u; r < 4u; r++) {
      let i = q0 + ty + r * TY;
      if (i < u.Tq) { delta[bh * u.Tq + i] = dl[r]; }
    }
  }
}`;
}

/**
 * dk, dv `[B, Hkv, Tk, dh]`: a workgroup owns 4·TY keys, sums over the
 * group's query heads and streams the query tiles that see them
 * (deterministic order, no atomics). Grid: `attentionGrid` of key blocks, B*Hkv.
 * With `split` the first half of the threads computes P = exp(S - lse) and dv,
 * the second dP - Δ and dk (reading P back: dS = P ∘ (dP - Δ)).
 */
export function attentionKeyGradWgsl(p: AttentionKernelParams): string {
  const BK = 4 * p.ty;
  const BQ = 4 * p.tx;
  const D4 = d4Of(p.dh);
  const tileAt = (base: string, off: string) => ({
    q: staging('qS', 'qb', BQ, base, 'u.Tq', off, ' * u.scale', p, 'xq'),
    g: staging('gS', 'gb', BQ, base, 'u.Tq', off, '', p, 'xg'),
  });
  const cur = tileAt('i0', 'bh * u.Tq');
  // Prefetch: tile t + 1's loads, issued before tile t's products.
  const next = tileAt('ni0', 'nbh * u.Tq');
  const nextAt = (t: string) =>
    `let ni0 = iFirst + (${t} % nI) * ${BQ}u; let nbh = b * u.H + hk * u.group + ${t} / nI;`;
  const seen = (r: number) =>
    `let seen = (vec4<u32>(j0 + ty + ${r}u * TY) < colPos) & (vec4<u32>(j0 + ty + ${r}u * TY) >= colFirst);`;
  // Masked entries get P = 0 (so dS = P ∘ (dP - Δ) = 0); a fully visible tile also ends by Tq.
  const maskP = maskUnlessVisible(
    p,
    'j0',
    BK,
    'i0',
    R4.map((r) => `{ ${seen(r)} s${r} = select(vec4<f32>(0.0), s${r}, seen); }`).join('\n        '),
    `i0 + ${BQ}u > u.Tq || `,
  );
  const transpose = (dst: string, v: string) =>
    R4.map(
      (c) =>
        `${dst}[(tx + ${c}u * TX) * TY + ty] = vec4<f32>(${R4.map((r) => `${v}${r}[${c}]`).join(', ')});`,
    ).join('\n        ');
  const columns = (decl: string, vals: string) => `${decl}
      var colPos: vec4<u32>;
      var colFirst: vec4<u32>;
      for (var c = 0u; c < 4u; c++) {
        let i = i0 + tx + c * TX;
        let ic = min(i, u.Tq - 1u);
        ${vals}
        // A query past Tq sees nothing: position below every key.
        colPos[c] = select(0u, u.kvOffset + i + 1u, i < u.Tq);
        colFirst[c] = ${p.docs ? 'u32(max(db[b * u.Tq + ic], 0))' : '0u'};
      }`;
  const body = p.split
    ? `${columns(
        'var colX: vec4<f32>; // lse for P, Δ for dP',
        'if (role == 0u) { colX[c] = lse[bh * u.Tq + ic]; } else { colX[c] = delta[bh * u.Tq + ic]; }',
      )}
      workgroupBarrier();
      ${p.prefetch ? `if (t + 1u < nTiles) { ${nextAt('(t + 1u)')} ${next.q.load} ${next.g.load} }` : ''}
      if (role == 0u) {
        ${tile('s')}
        ${scores([['kS', 'qS', 's']])}
        ${R4.map((r) => `s${r} = exp(s${r} - colX);`).join(' ')}
        ${maskP}
        ${transpose('pS', 's')}
      } else {
        ${tile('s')}
        ${scores([['vS', 'gS', 's']])}
        ${R4.map((r) => `s${r} -= colX;`).join(' ')}
        ${transpose('dS', 's')}
      }
      workgroupBarrier();
      if (role == 0u) {
        ${outputProduct(p, BQ, [['pS', 'gS', 'acc']])}
      } else {
        ${outputProduct(p, BQ, [[(at) => `pS[${at}] * dS[${at}]`, 'qS', 'acc']])}
      }`
    : `${columns(
        'var colLse: vec4<f32>; var colDelta: vec4<f32>;',
        'colLse[c] = lse[bh * u.Tq + ic]; colDelta[c] = delta[bh * u.Tq + ic];',
      )}
      workgroupBarrier();
      ${p.prefetch ? `if (t + 1u < nTiles) { ${nextAt('(t + 1u)')} ${next.q.load} ${next.g.load} }` : ''}
      ${tile('s')}
      ${tile('dp')}
      ${scores([
        ['kS', 'qS', 's'],
        ['vS', 'gS', 'dp'],
      ])}
      ${R4.map((r) => `s${r} = exp(s${r} - colLse);`).join(' ')}
      ${maskP}
      ${R4.map((r) => `dp${r} = s${r} * (dp${r} - colDelta);`).join(' ')}
      ${transpose('pS', 's')}
      ${transpose('dS', 'dp')}
      workgroupBarrier();
      ${outputProduct(p, BQ, [
        ['pS', 'gS', 'dv'],
        ['dS', 'qS', 'dk'],
      ])}`;
  const write = p.split
    ? `if (role == 0u) {
    ${writeOut(p, 'dvb', 'acc', 'j0', 'u.Tk', 'bkv * u.Tk', () => '1.0')}
  } else {
    ${writeOut(p, 'dkb', 'acc', 'j0', 'u.Tk', 'bkv * u.Tk', () => '1.0')}
  }`
    : `${writeOut(p, 'dkb', 'dk', 'j0', 'u.Tk', 'bkv * u.Tk', () => '1.0')}
  ${writeOut(p, 'dvb', 'dv', 'j0', 'u.Tk', 'bkv * u.Tk', () => '1.0')}`;
  return `${head(p, [
    ['qb', p.dtype, false],
    ['kb', p.dtype, false],
    ['vb', p.dtype, false],
    ['gb', p.dtype, false],
    ['lse', 'f32', false],
    ['delta', 'f32', false],
    ['db', 'i32', false],
    ['dkb', p.dtype, true],
    ['dvb', p.dtype, true],
  ])}
var<workgroup> kS: array<vec4<f32>, ${BK * D4}>;
var<workgroup> vS: array<vec4<f32>, ${BK * D4}>;
var<workgroup> qS: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> gS: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> pS: array<vec4<f32>, ${BQ * p.ty}>;
var<workgroup> dS: array<vec4<f32>, ${BQ * p.ty}>;

@compute @workgroup_size(${attentionThreads(p)})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let bkv = ${gridHeads(p)};
  let b = bkv / u.Hkv;
  let hk = bkv % u.Hkv;
  ${p.split ? 'let role = lid / NT;\n  let tx = lid % TX;\n  let ty = (lid % NT) / TX;' : 'let tx = lid % TX;\n  let ty = lid / TX;'}
  let j0 = ${gridBlock(p, false)} * ${BK}u;
  ${stage('kS', 'kb', BK, 'j0', 'u.Tk', 'bkv * u.Tk', '', p)}
  ${stage('vS', 'vb', BK, 'j0', 'u.Tk', 'bkv * u.Tk', '', p)}
  ${ccDecl(p)}
  ${p.split ? accDecl(p, 'acc') : `${accDecl(p, 'dk')}\n  ${accDecl(p, 'dv')}`}
  // Queries that can see key j0 or later: kvOffset + i >= j0; tiles t run over (group head, query tile).
  let iStart = select(0u, j0 - u.kvOffset, j0 > u.kvOffset);
  let iFirst = iStart - iStart % ${BQ}u;
  let nI = select(0u, (u.Tq - iFirst + ${BQ - 1}u) / ${BQ}u, iFirst < u.Tq);
  let nTiles = nI * u.group;
  ${cur.q.decl} ${cur.g.decl}
  ${p.prefetch ? `if (nTiles > 0u) { ${nextAt('0u')} ${next.q.load} ${next.g.load} }` : ''}
  for (var t = 0u; t < nTiles; t++) {
    let i0 = iFirst + (t % nI) * ${BQ}u;
    let bh = b * u.H + hk * u.group + t / nI;
    workgroupBarrier();
    ${p.prefetch ? '' : `${cur.q.load}\n    ${cur.g.load}`}
    ${cur.q.store}
    ${cur.g.store}
    {
      ${body}
    }
  }
  ${write}
}
`;
}
