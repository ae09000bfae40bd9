import { empty, narrow, record, reshape, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { applyRoPE, type RoPE } from '../rope.js';
import { bufferOf, fusedRuntime, WORKGROUP } from './gpu.js';

/** One output of {@link splitHeadsRoPE}: the next `heads` heads of the input's channels, rotated or not. */
export interface HeadSegment {
  readonly heads: number;
  readonly rotate: boolean;
}

/** RoPE cos/sin tables `[T, rotaryDim/2]` (from `ropeTables`). */
export type RoPETables = { readonly cos: Tensor; readonly sin: Tensor };

/**
 * Splits `x [B, T, C]` (the channels of consecutive heads of width `headDim`,
 * e.g. the fused q/k/v projection) into `[B, heads, T, headDim]` tensors, one
 * per segment, applying RoPE to the segments marked `rotate`. Equals
 * `applyRoPE(rope, reshape(piece, [B, T, heads, headDim]).permute([0, 2, 1, 3]))`
 * per segment. On WebGPU (f32) it is one kernel forward (contiguous outputs,
 * the layout attention reads) and one backward (a contiguous `dx`), instead
 * of a copy per head split and ~16 elementwise dispatches per rotation.
 * `x` may be a strided view with unit channel stride (a slice of a wider
 * projection). Up to 3 segments; their channels must cover C.
 */
export function splitHeadsRoPE(
  x: Tensor,
  segments: readonly HeadSegment[],
  headDim: number,
  rope: RoPE | null,
  tables: RoPETables | null,
): Tensor[] {
  const [B, T, C] = x.shape as [number, number, number];
  const width = segments.reduce((s, g) => s + g.heads * headDim, 0);
  if (x.rank !== 3 || width !== C || segments.length < 1 || segments.length > 3)
    throw new Error(
      `splitHeadsRoPE: x [B, T, C] with C = Σ heads·headDim (${width}) over 1..3 segments; got [${x.shape.join(', ')}]`,
    );
  const rotates = segments.some((s) => s.rotate);
  if (rotates && (!rope || !tables || tables.cos.shape[0] !== T || rope.headDim !== headDim))
    throw new Error(
      'splitHeadsRoPE: rotated segments need the RoPE of this headDim and tables for T positions',
    );
  const rt = fusedRuntime(x);
  if (
    !rt ||
    (rotates && (tables!.cos.dtype !== 'f32' || !tables!.cos.isContiguous || !tables!.sin.isContiguous))
  )
    return splitHeadsRoPERef(x, segments, headDim, rope, tables);
  // The kernel takes any batch and token strides, but unit channel stride.
  if (x.strides[2] !== 1 && C > 1)
    return tidy(() => splitHeadsRoPE(x.contiguous(), segments, headDim, rope, tables));
  const backend = x.backend;
  const outs = segments.map((s) => empty(backend, [B, s.heads, T, headDim], 'f32'));
  // Without rotation the tables are never read: bind x (read-only) in their place.
  const table = (t: Tensor | undefined) => bufferOf(t ?? x);
  const starts = segments.map((_, i) => segments.slice(0, i).reduce((a, g) => a + g.heads * headDim, 0));
  const rot = rotates ? rope!.rotaryDim : 0;
  const uniforms = new Uint32Array([
    B * T,
    T,
    C,
    x.shape[0] === 1 ? 0 : x.strides[0]!,
    x.shape[1] === 1 ? 0 : x.strides[1]!,
    x.offset,
    segments.reduce((m, s, i) => m | (s.rotate ? 1 << i : 0), 0),
    starts[1] ?? C,
    starts[2] ?? C,
    segments[0]!.heads,
    segments[1]?.heads ?? 1,
    segments[2]?.heads ?? 1,
  ]);
  // Head width and rotary width are compile-time constants: the per-channel divisions become shifts.
  const shape = { segments: segments.length, headDim, rot };
  const key = `${shape.segments}|dh=${headDim}|rot=${rot}`;
  const workgroups = B * T; // one workgroup per token row
  rt.dispatch({
    pipelineKey: `layers.ropeHeads.fwd|${key}`,
    makeCode: () => ropeHeadsWgsl(shape, false),
    bindings: [
      { buffer: bufferOf(x) },
      { buffer: table(tables?.cos) },
      { buffer: table(tables?.sin) },
      ...outs.map((o) => ({ buffer: bufferOf(o), write: true })),
    ],
    uniforms,
    workgroups,
  });
  const saved = tables ? [tables.cos, tables.sin] : [];
  record('splitHeadsRoPE', [x], outs, saved, (gs, sv) => {
    const grads = gs.map((g, i) => (g ? g.contiguous() : zeros(outs[i]!.shape, { backend })));
    const dx = empty(backend, [B, T, C], 'f32');
    rt.dispatch({
      pipelineKey: `layers.ropeHeads.bwd|${key}`,
      makeCode: () => ropeHeadsWgsl(shape, true),
      bindings: [
        { buffer: bufferOf(dx), write: true },
        { buffer: sv[0] ? bufferOf(sv[0]) : bufferOf(grads[0]!) },
        { buffer: sv[1] ? bufferOf(sv[1]) : bufferOf(grads[0]!) },
        ...grads.map((g) => ({ buffer: bufferOf(g) })),
      ],
      uniforms,
      workgroups,
    });
    return [dx];
  });
  return outs;
}

/** The composed reference of {@link splitHeadsRoPE} (any backend and dtype). */
export function splitHeadsRoPERef(
  x: Tensor,
  segments: readonly HeadSegment[],
  headDim: number,
  rope: RoPE | null,
  tables: RoPETables | null,
): Tensor[] {
  return tidy(() => {
    const [B, T] = x.shape as [number, number];
    let start = 0;
    return segments.map((s) => {
      const piece = narrow(x, -1, start, s.heads * headDim);
      start += s.heads * headDim;
      const y = reshape(piece, [B, T, s.heads, headDim]).permute([0, 2, 1, 3]);
      return s.rotate ? applyRoPE(rope!, y, 0, tables!) : y;
    });
  });
}

/**
 * One workgroup per token `(b, t)`, its threads striding over the C channels.
 * Forward: reads the row of x (strided rows), writes the segment outputs
 * `[B, h, T, dh]`. Backward (`grad`): reads the segment gradients, writes the
 * row of `dx` (contiguous); the rotation is transposed (`dx1 = g1 cos + g2 sin`,
 * `dx2 = g2 cos − g1 sin`).
 */
function ropeHeadsWgsl(k: { segments: number; headDim: number; rot: number }, grad: boolean): string {
  const segs = [...Array(k.segments).keys()];
  const half = Math.max(k.rot / 2, 1);
  const io = grad
    ? `@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
${segs.map((s) => `@group(0) @binding(${4 + s}) var<storage, read> g${s}: array<f32>;`).join('\n')}
fn seg(s: u32, i: u32) -> f32 {
${segs.map((s) => `  if (s == ${s}u) { return g${s}[i]; }`).join('\n')}
  return 0.0;
}`
    : `@group(0) @binding(1) var<storage, read> x: array<f32>;
${segs.map((s) => `@group(0) @binding(${4 + s}) var<storage, read_write> o${s}: array<f32>;`).join('\n')}
fn put(s: u32, i: u32, v: f32) {
${segs.map((s) => `  if (s == ${s}u) { o${s}[i] = v; }`).join('\n')}
}`;
  const rotate = (partner: string, sign: '+' | '-') => `
    if (rotate) {
      let first = d < HALF;
      let j = select(d - HALF, d, first);
      let cs = cosT[t * HALF + j];
      let sn = sinT[t * HALF + j];
      let p = ${partner};
      v = select(v * cs ${sign === '+' ? '-' : '+'} p * sn, v * cs ${sign} p * sn, first);
    }`;
  return /* wgsl */ `
struct Params {
  rows: u32, T: u32, C: u32, sB: u32, sT: u32, off: u32,
  rotMask: u32, start1: u32, start2: u32, h0: u32, h1: u32, h2: u32,
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(2) var<storage, read> cosT: array<f32>;
@group(0) @binding(3) var<storage, read> sinT: array<f32>;
${io}
const DH = ${k.headDim}u;
const HALF = ${half}u;
const ROT = ${k.rot}u;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u.rows) { return; }
  let t = row % u.T;
  let b = row / u.T;
  let xrow = b * u.sB + t * u.sT + u.off;
  for (var c = lid; c < u.C; c += ${WORKGROUP}u) {
    var s = 0u;
    var start = 0u;
    var heads = u.h0;
    if (c >= u.start2) { s = 2u; start = u.start2; heads = u.h2; }
    else if (c >= u.start1) { s = 1u; start = u.start1; heads = u.h1; }
    let local = c - start;
    let h = local / DH;
    let d = local % DH;
    // Element (b, h, t, d) of the segment's [B, heads, T, dh] tensor.
    let o = ((b * heads + h) * u.T + t) * DH + d;
    let rotate = ((u.rotMask >> s) & 1u) == 1u && d < ROT;
${
  grad
    ? `    var v = seg(s, o);${rotate('seg(s, select(o - HALF, o + HALF, first))', '+')}
    dx[row * u.C + c] = v;`
    : `    var v = x[xrow + c];${rotate('x[select(xrow + c - HALF, xrow + c + HALF, first)]', '-')}
    put(s, o, v);`
}
  }
}`;
}
