import { record, type Tensor } from '@dynconv/tensor';
import { type Binding, type KernelRuntime, output } from '../common/gpu.js';
import { bind, raw } from '../conv-core/conv-launch.js';
import {
  type AttentionKernelParams,
  attentionForwardWgsl,
  attentionKey,
  attentionKeyGradWgsl,
  attentionQueryGradWgsl,
  attentionTile,
  attentionUniforms,
} from './causal-attention.wgsl.js';

/** Queries (forward, dq) or keys (dk/dv) per workgroup, one thread each. */
const ROWS = 64;

interface Shapes {
  B: number;
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  dh: number;
  kvOffset: number;
}

/**
 * The fused WebGPU causal attention: a forward kernel saving the row
 * logsumexp, a dq kernel (also writing Δ = rowsum(dO ∘ O)) and a dk/dv
 * kernel, all recomputing probabilities tile by tile (no `[T, T]` buffer).
 * Arguments are validated by `causalAttention`.
 */
export function causalAttentionFused(
  rt: KernelRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  docStart: Tensor | undefined,
  scale: number,
  s: Shapes,
): Tensor {
  const backend = q.backend;
  const p: AttentionKernelParams = {
    dtype: q.dtype === 'f16' ? 'f16' : 'f32',
    dh: s.dh,
    docs: docStart !== undefined,
    rows: ROWS,
    tile: attentionTile(s.dh),
  };
  const qc = raw(q);
  const kc = raw(k);
  const vc = raw(v);
  const dc = docStart ? raw(docStart) : null;
  const uniforms = attentionUniforms.pack({
    H: s.H,
    Hkv: s.Hkv,
    Tq: s.Tq,
    Tk: s.Tk,
    kvOffset: s.kvOffset,
    group: s.H / s.Hkv,
    scale,
  });
  const docs = (): Binding[] => (dc ? [bind(dc)] : []);
  const o = output(backend, [s.B, s.H, s.Tq, s.dh], q.dtype);
  const lse = output(backend, [s.B, s.H, s.Tq], 'f32');
  rt.dispatch({
    pipelineKey: attentionKey('fwd', p),
    makeCode: () => attentionForwardWgsl(p),
    bindings: [bind(qc), bind(kc), bind(vc), ...docs(), bind(o, true), bind(lse, true)],
    uniforms,
    workgroups: [Math.ceil(s.Tq / ROWS), s.B * s.H],
  });
  const saved = [qc, kc, vc, o, lse, ...(dc ? [dc] : [])];
  record('causalAttention', [q, k, v], [o], saved, ([g], sv) => {
    const [sq, sk, svv, so, sl] = [sv[0]!, sv[1]!, sv[2]!, sv[3]!, sv[4]!];
    const sd = dc ? sv[5]! : null;
    const gc = raw(g!);
    const sdocs = sd ? [bind(sd)] : [];
    const dq = output(backend, q.shape, q.dtype);
    const delta = output(backend, [s.B, s.H, s.Tq], 'f32');
    rt.dispatch({
      pipelineKey: attentionKey('dq', p),
      makeCode: () => attentionQueryGradWgsl(p),
      bindings: [
        bind(sq),
        bind(sk),
        bind(svv),
        bind(so),
        bind(gc),
        bind(sl),
        ...sdocs,
        bind(dq, true),
        bind(delta, true),
      ],
      uniforms,
      workgroups: [Math.ceil(s.Tq / ROWS), s.B * s.H],
    });
    const dk = output(backend, k.shape, k.dtype);
    const dv = output(backend, v.shape, v.dtype);
    rt.dispatch({
      pipelineKey: attentionKey('dkdv', p),
      makeCode: () => attentionKeyGradWgsl(p),
      bindings: [
        bind(sq),
        bind(sk),
        bind(svv),
        bind(gc),
        bind(sl),
        bind(delta),
        ...sdocs,
        bind(dk, true),
        bind(dv, true),
      ],
      uniforms,
      workgroups: [Math.ceil(s.Tk / ROWS), s.B * s.Hkv],
    });
    return [dq, dk, dv];
  });
  for (const t of [qc, kc, vc, dc, lse]) t?.dispose();
  return o;
}
