import { empty, type Tensor } from '@dynconv/tensor';
import { fusedRuntime } from './gpu.js';

/**
 * The weight concatenation of the fused linear layers (q|k|v|generators,
 * gate|up) and its backward split into per-parameter gradients, as
 * `Backend.copyRuns` of @dynconv/tensor: one dispatch per 15 pieces on
 * WebGPU (7 small weights took 7 copy dispatches forward and 6 backward per
 * layer, ~12 µs each on the H100, mostly fixed cost). The dispatches are
 * labelled `layers.copyRuns` so that profiles tell them from `concat`'s.
 */
const label = 'layers.copyRuns';

/** Row-major strides (the elements are `t.size` consecutive ones from `t.offset`). */
const denseFromOffset = (t: Tensor): boolean => {
  let expect = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i]! > 1 && t.strides[i] !== expect) return false;
    expect *= t.shape[i]!;
  }
  return true;
};

/** Whether `ts` are non-empty contiguous f32 tensors of one WebGPU backend, in buffers of their own. */
const applies = (ts: readonly Tensor[]): boolean => {
  const rt = ts.length > 0 ? fusedRuntime(ts[0]!) : null;
  if (!rt) return false;
  const buffers = new Set<unknown>();
  for (const t of ts) {
    if (fusedRuntime(t) !== rt || !denseFromOffset(t) || t.size === 0) return false;
    if (buffers.has(t.storage.buffer)) return false;
    buffers.add(t.storage.buffer);
  }
  return true;
};

/**
 * `concat(ts, 0)` of contiguous f32 WebGPU tensors `[r_i, ...rest]` as
 * `[Σ r_i, ...rest]`, in one dispatch per 15 inputs; null where it does not
 * apply (the caller concatenates). No autograd record.
 */
export function concatRows(ts: readonly Tensor[]): Tensor | null {
  if (
    !applies(ts) ||
    ts.some((t) => t.rank !== ts[0]!.rank || t.shape.slice(1).join() !== ts[0]!.shape.slice(1).join())
  )
    return null;
  const rows = ts.reduce((n, t) => n + t.shape[0]!, 0);
  const out = empty(ts[0]!.backend, [rows, ...ts[0]!.shape.slice(1)], 'f32');
  let sharedOffset = 0;
  const runs = ts.map((t) => {
    const r = { buffer: t.storage.buffer, offset: t.offset, sharedOffset, length: t.size };
    sharedOffset += t.size;
    return r;
  });
  out.backend.copyRuns({ direction: 'gather', shared: out.storage.buffer, runs, label });
  return out;
}

/**
 * `g [Σ r_i, ...rest]` (contiguous f32 WebGPU) split along dim 0 into new
 * tensors `[r_i, ...rest]` (buffers of their own), in one dispatch per 15
 * outputs; null where it does not apply.
 */
export function splitRows(g: Tensor, rows: readonly number[]): Tensor[] | null {
  if (!applies([g]) || g.rank === 0 || rows.reduce((a, b) => a + b, 0) !== g.shape[0]) return null;
  const rest = g.shape.slice(1);
  const width = rest.reduce((a, b) => a * b, 1);
  const outs = rows.map((r) => empty(g.backend, [r, ...rest], 'f32'));
  let sharedOffset = g.offset;
  const runs = outs.map((t) => {
    const r = { buffer: t.storage.buffer, offset: 0, sharedOffset, length: t.size };
    sharedOffset += t.shape[0]! * width;
    return r;
  });
  g.backend.copyRuns({ direction: 'scatter', shared: g.storage.buffer, runs, label });
  return outs;
}
