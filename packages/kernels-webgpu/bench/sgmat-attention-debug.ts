/**
 * Device debugging of the subgroup-matrix attention forward (not a test):
 * runs the raw kernel (`sgmatAttentionForwardWgsl`) on small shapes for every
 * launch shape, prints per case the max error of o and lse against the
 * float64 reference and where the first NaN sits; `--dump` also runs an
 * instrumented copy that writes the workgroup's staged Q, K tile, S tile, P
 * tile, row max / sum and final O to a debug buffer, and compares each with
 * what the inputs give (`--map`: a character map of the S tile, and the
 * S block stored straight to storage, which separates the products from the
 * workgroup stores). `--variants=a,b+c` runs source patches (PATCHES: zeroed
 * workgroup memory, another f32 leading dimension, the flag as a vec4, ...),
 * `--launch=L0,L1x`, `--cases=0,3` and `--taus=8` narrow the scan, `--checks`
 * runs the bench's reduced-precision checks (forward, then with the sgmat
 * dq), `--emulate` runs the emulated kernels (llvmpipe). This found the
 * misaligned workgroup layout (see WORKGROUP_ALIGN in causal-attention.sgmat-ops.ts).
 *
 *   esbuild bench/sgmat-attention-debug.ts --bundle --platform=node --format=esm --external:webgpu \
 *     --conditions=@dynconv/source --outfile=dist-bundle/sgdbg/debug.mjs && node dist-bundle/sgdbg/debug.mjs
 */
import { matmulCaps, roundF16, type SgMatShape, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { causalAttentionForward64 } from '../src/causal-attention/causal-attention.ref.js';
import {
  type SgmatAttentionLaunch,
  type SgmatAttentionParams,
  sgmatAttentionBytes,
  sgmatAttentionForwardWgsl,
  sgmatAttentionLayout,
} from '../src/causal-attention/causal-attention.sgmat.wgsl.js';
import { sgmatGrid } from '../src/causal-attention/causal-attention.sgmat-launch.js';
import { SGMAT_LAUNCHES } from '../src/causal-attention/causal-attention.sgmat-plan.js';
import { attentionUniforms } from '../src/causal-attention/causal-attention.wgsl.js';
import { output } from '../src/common/gpu.js';
import { bind } from '../src/conv-core/conv-launch.js';
import { docStartValues } from '../test/helpers.js';
import { type AttentionDims, type AttentionInputs, halfInputs, S16 } from '../test/sgmat-attention.js';
import { checkReducedPrecision, withReduced } from './attention-reduced-checks.js';

const args = process.argv.slice(2);
const emulate = args.includes('--emulate');
const dump = args.includes('--dump');
const only = args
  .find((a) => a.startsWith('--launch='))
  ?.slice(9)
  .split(',');
const variants = (args.find((a) => a.startsWith('--variants='))?.slice(11) ?? 'plain').split(',');

const backend = await createNodeWebGPUBackend();
const rt = backend.runtime;
const caps = matmulCaps(rt.device);
const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
console.log(
  `device ${rt.device.adapterInfo.description}; limit ${limit}; sgmat ${caps.subgroupMatrixNote}; robustness env ${process.env.DYNCONV_WEBGPU_ROBUSTNESS ?? '-'}`,
);
const shape: SgMatShape = caps.subgroupMatrix?.shape ?? S16;
const syntax = caps.subgroupMatrix?.syntax ?? {
  builtins: 'template' as const,
  diagnostic: 'chromium' as const,
};
if (!emulate && !caps.subgroupMatrix) throw new Error('no subgroup matrices (use --emulate)');

/** Source patches of the kernel (experiments); each returns the patched WGSL. */
const PATCHES: Record<string, (code: string, p: SgmatAttentionParams) => string> = {
  plain: (c) => c,
  // Every workgroup array zeroed first (as Dawn's workgroup init would): finds reads of unwritten memory.
  wginit: (c, p) => {
    const lay = sgmatAttentionLayout(p);
    const sizes: [string, number][] = [
      ['qS', lay.bq * lay.ldq],
      ['kS', lay.kpSize],
      ['vS', p.bk * lay.ldv],
      ['sS', lay.bq * lay.lds],
      ['red', lay.bq * lay.lpr],
      ['rowScale', lay.bq],
    ];
    const zero = sizes
      .map(([a, n]) => `for (var e = lid; e < ${n}u; e += ${p.subgroups * 32}u) { ${a}[e] = 0.0; }`)
      .join('\n  ');
    return c.replace(
      /(\n {2}let lane = lid % 32u;)/,
      `$1\n  ${zero}\n  rescale = 0u;\n  workgroupBarrier();`,
    );
  },
  // The f32 tile's leading dimension 64 instead of 68 (all lds are 68 in these launches at dh=64).
  lds64: (c) => c.replace(/\b68u\b/g, '64u'),
  // The rescale flag as a vec4 (no 4-byte workgroup variable that could misalign the arrays after it).
  rvec4: (c) =>
    c
      .replace('var<workgroup> rescale: u32;', 'var<workgroup> rescale: vec4<u32>;')
      .replace(/rescale = ([01])u;/g, 'rescale.x = $1u;')
      .replace('workgroupUniformLoad(&rescale) != 0u', 'workgroupUniformLoad(&rescale).x != 0u'),
  // sS declared first.
  sfirst: (c) => {
    const line = c.match(/\nvar<workgroup> sS: [^\n]*/)![0];
    return c.replace(line, '').replace('\nvar<workgroup> qS', `${line}\nvar<workgroup> qS`);
  },
  // Q's matrices loaded inside the loop, before each S product (not held across the loop's barriers).
  qreload: (c) => {
    const lines = c.match(/^ *(var|let) qL\d+_\d+ = .*;$/gm) ?? [];
    let out = c;
    for (const l of lines) out = out.replace(`${l}\n`, '');
    return out.replace(/(\n *var s0_0 = )/, `\n${lines.join('\n')}$1`);
  },
};

/** Debug binding and dump points (see `--dump`). */
function instrument(code: string, p: SgmatAttentionParams, bindingIndex: number, q0: number, k0: number) {
  const lay = sgmatAttentionLayout(p);
  const nt = p.subgroups * 32;
  const regions = {
    q: lay.bq * lay.ldq,
    k: lay.kpSize,
    s: lay.bq * lay.lds,
    p: lay.kpSize,
    ml: lay.bq * 2 * 2 * lay.lpr, // per lane m, l (lid order)
    o: lay.bq * lay.lds,
    scale: lay.bq,
    sg: p.subgroups * 256, // S block (0, 0) of each subgroup stored straight to the debug buffer
  };
  const base: Record<string, number> = {};
  let at = 0;
  for (const [name, n] of Object.entries(regions)) {
    base[name] = at;
    at += n;
  }
  const copy = (name: string, arr: string, n: number) =>
    `for (var e = lid; e < ${n}u; e += ${nt}u) { dbg[${base[name]}u + e] = f32(${arr}[e]); }`;
  const here = `wid.x == 0u && q0 == ${q0}u`;
  let out = code.replace(
    /(var<storage, read_write> lse: array<f32>;)/,
    `$1\n@group(0) @binding(${bindingIndex}) var<storage, read_write> dbg: array<f32>;`,
  );
  // After the S store and its barrier: Q, the K tile, S.
  out = out.replace(
    /(\n {4}var tmax = -3\.0e38;)/,
    `\n    if (${here} && k0 == ${k0}u) { ${copy('q', 'qS', regions.q)} ${copy('k', 'kS', regions.k)} ${copy('s', 'sS', regions.s)} ${p.emulate || p.shape.n !== 16 ? '' : `subgroupMatrixStore<row_major>(&dbg, ${base.sg}u + sg * 256u, s0_0, 16u);`} }$1`,
  );
  // Before P·V (after the rescale block): P.
  const start = out.indexOf('if (workgroupUniformLoad(&rescale)');
  let depth = 0;
  let end = out.indexOf('{', start);
  for (let i = end; i < out.length; i++) {
    if (out[i] === '{') depth++;
    if (out[i] === '}') depth--;
    if (depth === 0) {
      end = i + 1;
      break;
    }
  }
  out = `${out.slice(0, end)}\n    if (${here} && k0 == ${k0}u) { ${copy('p', 'kS', regions.p)} }${out.slice(end)}`;
  // After the loop: m and l of each lane.
  out = out.replace(
    /\n {2}(red\[row \* 2u \+ part\] = l;|let lRow = l;)/,
    `\n  if (${here}) { dbg[${base.ml}u + lid * 2u] = m; dbg[${base.ml}u + lid * 2u + 1u] = l; }\n  $1`,
  );
  // Before the output: O (unnormalized) and 1 / l.
  const last = out.lastIndexOf('workgroupBarrier();');
  const after = last + 'workgroupBarrier();'.length;
  out = `${out.slice(0, after)}\n  if (${here}) { ${copy('o', 'sS', regions.o)} ${copy('scale', 'rowScale', regions.scale)} }${out.slice(after)}`;
  return { code: out, size: at, base };
}

interface Run {
  o: Float32Array;
  lse: Float32Array;
  dbg: Float32Array | null;
  base: Record<string, number>;
}

async function runKernel(
  p: SgmatAttentionParams,
  d: AttentionDims,
  x: AttentionInputs,
  scale: number,
  variant: string,
  dumpAt: { q0: number; k0: number } | null,
): Promise<Run> {
  const make = (v: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32') =>
    tensor(Array.from(v), { shape, dtype, backend });
  const q = make(x.q, [d.B, d.H, d.Tq, d.dh]);
  const k = make(x.k, [d.B, d.Hkv, d.Tk, d.dh]);
  const v = make(x.v, [d.B, d.Hkv, d.Tk, d.dh]);
  const ds = x.starts ? make(x.starts, [d.B, d.Tq], 'i32') : null;
  const o = output(backend, [d.B, d.H, d.Tq, d.dh], 'f32');
  const lse = output(backend, [d.B, d.H, d.Tq], 'f32');
  let code = sgmatAttentionForwardWgsl(p);
  for (const v of variant.split('+')) code = PATCHES[v]!(code, p);
  const bindings = [bind(q), bind(k), bind(v), ...(ds ? [bind(ds)] : []), bind(o, true), bind(lse, true)];
  let dbgT: Tensor | null = null;
  let base: Record<string, number> = {};
  if (dumpAt) {
    const ins = instrument(code, p, bindings.length + 1, dumpAt.q0, dumpAt.k0);
    code = ins.code;
    base = ins.base;
    dbgT = make(new Float32Array(ins.size).fill(-12345), [ins.size]);
    bindings.push(bind(dbgT, true));
  }
  rt.dispatch({
    pipelineKey: `sgdbg|${variant}|${dumpAt ? `dump${dumpAt.q0},${dumpAt.k0}` : ''}|${JSON.stringify(p)}`,
    makeCode: () => code,
    bindings,
    uniforms: attentionUniforms.pack({
      H: d.H,
      Hkv: d.Hkv,
      Tq: d.Tq,
      Tk: d.Tk,
      kvOffset: d.Tk - d.Tq,
      group: d.H / d.Hkv,
      scale,
    }),
    workgroups: sgmatGrid(p, d.Tq, d.B * d.H),
  });
  const res = {
    o: await o.data(),
    lse: await lse.data(),
    dbg: dbgT ? await dbgT.data() : null,
    base,
  };
  for (const t of [q, k, v, ds, o, lse, dbgT]) t?.dispose();
  return res as Run;
}

const fmt = (x: number) => (Number.isNaN(x) ? 'NaN' : x.toExponential(2));

/** Compares a dump of workgroup (bh 0, q0) at tile k0 with the host's view. */
function compareDump(
  p: SgmatAttentionParams,
  d: AttentionDims,
  x: AttentionInputs,
  scale: number,
  r: Run,
  q0: number,
  k0: number,
  ref: { o: Float64Array; lse: Float64Array },
  variantOf: string,
) {
  const lay = sgmatAttentionLayout(p);
  const g = r.dbg!;
  const B = r.base;
  const dh = d.dh;
  const qAt = (row: number, c: number) => (q0 + row < d.Tq && c < dh ? x.q[(q0 + row) * dh + c]! : 0);
  const kAt = (key: number, c: number) => (k0 + key < d.Tk && c < dh ? x.k[(k0 + key) * dh + c]! : 0);
  const issues: string[] = [];
  const check = (
    what: string,
    n: number,
    got: (i: number) => number,
    want: (i: number) => number,
    where: (i: number) => string,
    tol: number,
  ) => {
    let bad = 0;
    let nan = 0;
    let first = '';
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const gv = got(i);
      const wv = want(i);
      if (Number.isNaN(gv)) nan++;
      const e = Math.abs(gv - wv);
      if (!(e <= tol * (1 + Math.abs(wv)))) {
        bad++;
        if (!first) first = `${where(i)} got ${gv} want ${wv}`;
      }
      if (e > worst) worst = e;
    }
    issues.push(
      `  ${what}: ${bad}/${n} off (NaN ${nan}, worst ${fmt(worst)})${first ? ` first ${first}` : ''}`,
    );
  };
  const { bq, ldq, ldp, dhp, ldk } = lay;
  const lds = variantOf.includes('lds64') ? 64 : lay.lds;
  check(
    'Q staged',
    bq * dhp,
    (i) => g[B.q! + Math.floor(i / dhp) * ldq + (i % dhp)]!,
    (i) => qAt(Math.floor(i / dhp), i % dhp),
    (i) => `row ${Math.floor(i / dhp)} d ${i % dhp}`,
    0,
  );
  const kIdx = (key: number, c: number) => (p.kTransposed ? c * ldk + key : key * ldk + c);
  check(
    'K staged',
    p.bk * dhp,
    (i) => g[B.k! + kIdx(Math.floor(i / dhp), i % dhp)]!,
    (i) => kAt(Math.floor(i / dhp), i % dhp),
    (i) => `key ${Math.floor(i / dhp)} d ${i % dhp}`,
    0,
  );
  const sWant = (row: number, key: number) => {
    let s = 0;
    for (let c = 0; c < dh; c++) s += qAt(row, c) * kAt(key, c);
    return s;
  };
  check(
    'S tile',
    bq * p.bk,
    (i) => g[B.s! + Math.floor(i / p.bk) * lds + (i % p.bk)]!,
    (i) => sWant(Math.floor(i / p.bk), i % p.bk),
    (i) => `row ${Math.floor(i / p.bk)} key ${i % p.bk}`,
    1e-4,
  );
  if (args.includes('--map') && maps++ < 2) {
    const rowsShown = Math.min(bq, 20);
    console.log(
      `  S map (rows 0..${rowsShown - 1}, keys 0..${p.bk - 1}): . both 0, = match, o got 0, x wrong, N NaN`,
    );
    for (let row = 0; row < rowsShown; row++) {
      let line = '';
      for (let key = 0; key < p.bk; key++) {
        const gv = g[B.s! + row * lds + key]!;
        const wv = sWant(row, key);
        line += Number.isNaN(gv)
          ? 'N'
          : gv === 0 && wv === 0
            ? '.'
            : Math.abs(gv - wv) <= 1e-3 * (1 + Math.abs(wv))
              ? '='
              : gv === 0
                ? 'o'
                : 'x';
      }
      console.log(`   ${String(row).padStart(2)} ${line}`);
    }
    const vals = (row: number) =>
      Array.from({ length: 6 }, (_, key) => g[B.s! + row * lds + key]!.toPrecision(3)).join(' ');
    const wants = (row: number) =>
      Array.from({ length: 6 }, (_, key) => sWant(row, key).toPrecision(3)).join(' ');
    for (const row of [0, 1, 2]) console.log(`   row ${row} got ${vals(row)} | want ${wants(row)}`);
    // Where do the wanted values appear? Search the whole sS dump for S[0][0..2].
    for (const key of [0, 1, 2]) {
      const w = sWant(0, key);
      const hits: number[] = [];
      for (let i = 0; i < bq * lds; i++)
        if (Math.abs(g[B.s! + i]! - w) < 1e-3 * (1 + Math.abs(w))) hits.push(i);
      console.log(`   S[0][${key}] = ${w.toPrecision(4)} found at sS[${hits.slice(0, 8).join(',')}]`);
    }
  }
  if (!p.emulate && p.shape.n === 16) {
    // Subgroup 0's first S block as stored straight to storage (16 x 16, stride 16).
    check(
      'S block to storage',
      256,
      (i) => g[B.sg! + i]!,
      (i) => sWant(Math.floor(i / 16), i % 16),
      (i) => `row ${Math.floor(i / 16)} key ${i % 16}`,
      1e-4,
    );
    const last = issues.pop()!;
    console.log(last);
  }
  // P against the kernel's own S and m at this tile (first tile: m = the tile's max over valid keys).
  if (k0 === 0) {
    const pWant = (row: number, key: number) => {
      const qi = Math.min(q0 + row, d.Tq - 1);
      const pos = d.Tk - d.Tq + qi;
      const first = x.starts ? x.starts[qi]! : 0;
      const ok = (j: number) => j <= pos && j >= first && j < d.Tk;
      let m = -Infinity;
      for (let j = 0; j < p.bk; j++) if (ok(j)) m = Math.max(m, g[B.s! + row * lds + j]! * scale);
      return ok(key) ? roundF16(Math.exp(g[B.s! + row * lds + key]! * scale - m)) : 0;
    };
    check(
      'P tile',
      bq * p.bk,
      (i) => g[B.p! + Math.floor(i / p.bk) * ldp + (i % p.bk)]!,
      (i) => pWant(Math.floor(i / p.bk), i % p.bk),
      (i) => `row ${Math.floor(i / p.bk)} key ${i % p.bk}`,
      2e-3,
    );
  }
  // Final O / l against the reference o (rows of this block).
  const rows = Math.min(bq, d.Tq - q0);
  check(
    'O*scale',
    rows * dh,
    (i) => g[B.o! + Math.floor(i / dh) * lds + (i % dh)]! * g[B.scale! + Math.floor(i / dh)]!,
    (i) => ref.o[(q0 + Math.floor(i / dh)) * dh + (i % dh)]!,
    (i) => `row ${Math.floor(i / dh)} d ${i % dh}`,
    3e-3,
  );
  const ml = Array.from(
    { length: 4 },
    (_, t) => `lane ${t}: m ${fmt(g[B.ml! + t * 2]!)} l ${fmt(g[B.ml! + t * 2 + 1]!)}`,
  );
  console.log(`  dump q0=${q0} k0=${k0}: ${ml.join('; ')}`);
  for (const s of issues) console.log(s);
}

const launches: [string, SgmatAttentionLaunch][] = SGMAT_LAUNCHES.map((l, i) => [`L${i}`, l]);
launches.push(['L1x', { subgroups: 1, sgRows: 16, bk: 16, kTransposed: false }]);
const caseFilter = args
  .find((a) => a.startsWith('--cases='))
  ?.slice(8)
  .split(',');
const allCases: [string, AttentionDims, number[] | null][] = [
  ['T=16', { B: 1, H: 1, Hkv: 1, Tq: 16, Tk: 16, dh: 64 }, null],
  ['T=64', { B: 1, H: 1, Hkv: 1, Tq: 64, Tk: 64, dh: 64 }, null],
  ['T=300', { B: 1, H: 1, Hkv: 1, Tq: 300, Tk: 300, dh: 64 }, null],
  ['T=300 docs GQA', { B: 2, H: 4, Hkv: 2, Tq: 300, Tk: 300, dh: 64 }, [37, 150]],
];
const cases = allCases.filter((_, i) => !caseFilter || caseFilter.includes(String(i)));
const taus = (args.find((a) => a.startsWith('--taus='))?.slice(7) ?? '8,0').split(',').map(Number);

const dumps = new Map<string, number>();
let maps = 0;
if (args.includes('--info')) {
  const p0: SgmatAttentionParams = {
    ...SGMAT_LAUNCHES[0]!,
    dtype: 'f32',
    dh: 64,
    docs: true,
    shape,
    syntax,
    emulate,
    tau: 8,
    heavyFirst: true,
  };
  const module = rt.device.createShaderModule({ code: sgmatAttentionForwardWgsl(p0) });
  const info = await module.getCompilationInfo();
  console.log(
    `compilation messages: ${info.messages.map((m) => `${m.type} ${m.lineNum}: ${m.message}`).join(' | ') || 'none'}`,
  );
}
for (const variant of variants) {
  maps = 0;
  for (const [lname, l] of launches) {
    if (only && !only.includes(lname)) continue;
    for (const tau of taus)
      for (const [cname, d, cuts] of cases) {
        const p: SgmatAttentionParams = {
          ...l,
          dtype: 'f32',
          dh: d.dh,
          docs: cuts !== null,
          shape,
          syntax,
          emulate,
          tau,
          heavyFirst: true,
        };
        const bytes = sgmatAttentionBytes(p);
        if (bytes > limit) {
          if (tau === 8 && cname === 'T=16')
            console.log(`${variant} ${lname} ${JSON.stringify(l)}: ${bytes} B > limit, skipped`);
          continue;
        }
        const x = halfInputs(d, 11, cuts ? docStartValues(d.B, d.Tq, [cuts]) : undefined);
        const scale = x.opts.scale;
        const ref = causalAttentionForward64(x.q, x.k, x.v, d, x.opts);
        let r: Run;
        try {
          r = await runKernel(p, d, x, scale, variant, null);
        } catch (e) {
          console.log(`${variant} ${lname} tau=${tau} ${cname}: ERROR ${String(e).slice(0, 600)}`);
          continue;
        }
        let oErr = 0;
        let lseErr = 0;
        let oNan = 0;
        let lseNan = 0;
        let firstNan = '';
        for (let i = 0; i < r.o.length; i++) {
          if (Number.isNaN(r.o[i]!)) {
            oNan++;
            if (!firstNan) {
              const row = Math.floor(i / d.dh);
              firstNan = `bh ${Math.floor(row / d.Tq)} row ${row % d.Tq} d ${i % d.dh}`;
            }
          } else oErr = Math.max(oErr, Math.abs(r.o[i]! - ref.o[i]!));
        }
        const nanRows = new Set<number>();
        for (let i = 0; i < r.lse.length; i++) {
          if (Number.isNaN(r.lse[i]!)) {
            lseNan++;
            nanRows.add(i % d.Tq);
          } else lseErr = Math.max(lseErr, Math.abs(r.lse[i]! - ref.lse[i]!));
        }
        const rowsList = [...nanRows].sort((a, b) => a - b);
        const ok = oNan === 0 && lseNan === 0 && oErr < 2.4e-3 && lseErr < 1.2e-4;
        console.log(
          `${variant} ${lname} tau=${tau} ${cname}: o ${fmt(oErr)} lse ${fmt(lseErr)} NaN o ${oNan}/${r.o.length} lse ${lseNan}/${r.lse.length}${firstNan ? ` first ${firstNan}; NaN lse rows ${rowsList.slice(0, 12).join(',')}${rowsList.length > 12 ? '…' : ''}` : ''}${ok ? '' : ' BAD'}`,
        );
        if (dump && d.B === 1 && (!ok || args.includes('--dump-all')) && (dumps.get(variant) ?? 0) < 3) {
          dumps.set(variant, (dumps.get(variant) ?? 0) + 1);
          const bq = l.subgroups * l.sgRows;
          const lastQ0 = Math.floor((d.Tq - 1) / bq) * bq;
          const lastK0 =
            Math.floor((Math.min(d.Tk, d.Tk - d.Tq + Math.min(lastQ0 + bq, d.Tq)) - 1) / l.bk) * l.bk;
          for (const [q0, k0] of [
            [0, 0],
            [lastQ0, 0],
            [lastQ0, lastK0],
          ] as const) {
            const rd = await runKernel(p, d, x, scale, variant, { q0, k0 });
            compareDump(p, d, x, scale, rd, q0, k0, ref, variant);
          }
        }
      }
  }
}
if (args.includes('--checks')) {
  // The bench's reduced-precision checks: the sgmat forward, then with the sgmat dq too.
  for (const tuning of [{}, { sgmatDq: true }])
    try {
      await withReduced(() => checkReducedPrecision(backend), tuning);
      console.log(`checks ${JSON.stringify(tuning)}: pass`);
    } catch (e) {
      console.log(`checks ${JSON.stringify(tuning)}: FAIL ${String(e).slice(0, 400)}`);
    }
}
backend.destroy();
