import { record, type Tensor } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { bind, raw } from '../conv-core/conv-launch.js';
import {
  rowwiseAttentionForwardWgsl,
  rowwiseAttentionKey,
  rowwiseAttentionKeyGradWgsl,
  rowwiseAttentionQueryGradWgsl,
  rowwiseAttentionTile,
} from './causal-attention.rowwise.wgsl.js';
import { type SgmatTuning, sgmatStages } from './causal-attention.sgmat-plan.js';
import {
  type AttentionKernelParams,
  type AttentionStage,
  attentionForwardWgsl,
  attentionGrid,
  attentionKey,
  attentionKeyGradWgsl,
  attentionQueryGradWgsl,
  attentionSharedBytes,
  attentionUniforms,
} from './causal-attention.wgsl.js';

type Launch = Pick<AttentionKernelParams, 'ty' | 'tx' | 'shareKV' | 'split' | 'prefetch'>;

/**
 * Launch shapes per stage, fastest first on the H100 (docs/results/attention-h100-session3,
 * rounds 1 to 3); the first whose workgroup memory fits the device is used: at dh=64 the
 * forward takes 32 KiB, dq 48 and dk/dv 48 (40 for its second to fourth entries; 32 KiB
 * devices get dq's third and dk/dv's fifth entry). Sharing K and V's buffer was faster in the
 * forward (more workgroups per SM); in dk/dv splitting P·dv and dP·dk over two thread halves
 * (twice the threads on the same workgroup memory) took 2.46 ms to 1.51, prefetching the
 * next query tile to 1.45 (16/4 and 8/8 within 1%). Prefetching the next key tile took the
 * forward from 0.86 ms to 0.76 and dq from 1.08 to 0.95 (round 3).
 */
export const LAUNCHES: Record<AttentionStage, readonly Launch[]> = {
  fwd: [
    { ty: 16, tx: 8, shareKV: true, prefetch: true },
    { ty: 16, tx: 8, shareKV: true },
    { ty: 8, tx: 8, shareKV: true },
    { ty: 8, tx: 4, shareKV: true },
    { ty: 4, tx: 4, shareKV: true },
  ],
  dq: [
    { ty: 16, tx: 8, prefetch: true },
    { ty: 16, tx: 8 },
    { ty: 8, tx: 8 },
    { ty: 8, tx: 4 },
    { ty: 4, tx: 4 },
  ],
  dkdv: [
    { ty: 16, tx: 4, split: true, prefetch: true },
    { ty: 8, tx: 8, split: true, prefetch: true },
    { ty: 8, tx: 8, split: true },
    { ty: 8, tx: 8 },
    { ty: 8, tx: 4, split: true, prefetch: true },
    { ty: 8, tx: 4 },
    { ty: 4, tx: 4 },
  ],
};

/**
 * Benchmark and test hook: force a launch shape per stage; `heavyFirst: false`
 * dispatches blocks in row order (see `AttentionKernelParams.heavyFirst`).
 */
export const attentionTuning: SgmatTuning & {
  launch: Partial<Record<AttentionStage, Launch>>;
  heavyFirst?: boolean | undefined;
  /** Force the row-wise kernels (true) or the register-tiled ones (false); default: by device (see attentionPlan). */
  rowwise?: boolean | undefined;
  /**
   * Reduced precision: the forward on tensor cores (q, k, v rounded to f16,
   * f32 softmax and accumulation; `causal-attention.sgmat.wgsl.ts`) where the
   * device has subgroup matrices; the backward stays f32 unless `sgmatDq`.
   * Default: the backend's `tuning.matmul.reducedPrecision` (the e2e bench's mixed mode).
   */
  reducedPrecision?: boolean | undefined;
  /** Force the subgroup-matrix forward's launch shape (else the first of SGMAT_LAUNCHES that fits). */
  sgmatLaunch?: SgmatTuning['sgmatLaunch'];
  /** Lazy-rescale threshold of the subgroup-matrix forward (0: rescale whenever a row max rises). */
  sgmatTau?: number | undefined;
  /**
   * With reduced precision, also dq on tensor cores (`causal-attention.sgmat-dq.wgsl.ts`).
   * Off by default until measured and checked on the H100.
   */
  sgmatDq?: boolean | undefined;
  /** Force the subgroup-matrix dq kernel's launch shape (else the first of SGMAT_DQ_LAUNCHES that fits). */
  sgmatDqLaunch?: SgmatTuning['sgmatDqLaunch'];
  /**
   * Test hook: use the subgroup-matrix kernels with emulated builtins (runs on
   * any device, llvmpipe included) for this matrix shape, regardless of
   * `reducedPrecision` and the device's features.
   */
  sgmatEmulate?: SgmatTuning['sgmatEmulate'];
} = {
  launch: {},
};

/** Chromium's software Vulkan driver, where the register-tiled kernels hang (see causal-attention.rowwise.wgsl.ts). */
const isSwiftShader = (device: GPUDevice): boolean => {
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return (
    !!info && /swiftshader/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`)
  );
};

/** The row-wise kernels as a plan: one thread per row, 64 rows per workgroup. */
function rowwisePlan(base: Pick<AttentionKernelParams, 'dtype' | 'dh' | 'docs'>): AttentionPlan {
  const p = { ...base, rows: ROWWISE_ROWS, tile: rowwiseAttentionTile(base.dh) };
  const grid = (rows: number, heads: number): [number, number] => [Math.ceil(rows / ROWWISE_ROWS), heads];
  return {
    fwd: { key: rowwiseAttentionKey('fwd', p), code: () => rowwiseAttentionForwardWgsl(p), grid },
    dq: { key: rowwiseAttentionKey('dq', p), code: () => rowwiseAttentionQueryGradWgsl(p), grid },
    dkdv: { key: rowwiseAttentionKey('dkdv', p), code: () => rowwiseAttentionKeyGradWgsl(p), grid },
  };
}
const ROWWISE_ROWS = 64;

/** One stage's kernel: pipeline key, WGSL and its grid for `rows` rows of its own side of `heads` heads. */
interface StageKernel {
  readonly key: string;
  readonly code: () => string;
  readonly grid: (rows: number, heads: number) => [number, number];
}

export type AttentionPlan = Record<AttentionStage, StageKernel>;

/** What the plan is chosen for: the f32 kernels' params and whether reduced precision is allowed. */
export type AttentionPlanBase = Pick<AttentionKernelParams, 'dtype' | 'dh' | 'docs'> & {
  /** The backend allows f16 rounding of f32 operands (see `attentionTuning.reducedPrecision`). */
  readonly reducedPrecision?: boolean;
};

/** Kernel families `DYNCONV_ATTENTION` can force (tests, benchmarks). */
const FAMILIES = ['rowwise', 'tiled', 'sgmat'] as const;

/**
 * `DYNCONV_ATTENTION=rowwise|tiled|sgmat` forces the kernel family: the
 * pre-session-3 row-wise kernels, the register-tiled f32 ones, or the
 * tensor-core forward (where the device has subgroup matrices; else tiled).
 * `attentionTuning` fields win over it.
 */
function forcedFamily(): (typeof FAMILIES)[number] | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.DYNCONV_ATTENTION;
  if (!value) return undefined;
  if (!(FAMILIES as readonly string[]).includes(value))
    throw new Error(`DYNCONV_ATTENTION must be one of ${FAMILIES.join(', ')}, got '${value}'`);
  return value as (typeof FAMILIES)[number];
}

/**
 * The three kernels for these inputs: for each stage the first launch shape
 * whose workgroup memory fits the device; null when one does not fit at all
 * (a very large head dim), where the caller composes the op instead. On
 * SwiftShader (or with `attentionTuning.rowwise`) the row-wise kernels. With
 * reduced precision on a device with subgroup matrices the forward (and
 * with `sgmatDq` dq) are the tensor-core ones (`sgmatStages`); dk/dv stays f32.
 * `DYNCONV_ATTENTION` forces a family (see {@link forcedFamily}).
 */
export function attentionPlan(rt: KernelRuntime, planBase: AttentionPlanBase): AttentionPlan | null {
  const base = { dtype: planBase.dtype, dh: planBase.dh, docs: planBase.docs };
  const forced = forcedFamily();
  if (attentionTuning.rowwise ?? (forced ? forced === 'rowwise' : isSwiftShader(rt.device)))
    return rowwisePlan(base);
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  const pick = (stage: AttentionStage, code: (p: AttentionKernelParams) => string): StageKernel | null => {
    const forced = attentionTuning.launch[stage];
    const found = (forced ? [forced] : LAUNCHES[stage]).find(
      (l) => attentionSharedBytes(stage, { ...base, ...l }) <= limit,
    );
    if (!found) return null;
    const p = { ...base, ...found, heavyFirst: attentionTuning.heavyFirst ?? true };
    return {
      key: attentionKey(stage, p),
      code: () => code(p),
      grid: (rows, heads) => attentionGrid(p, Math.ceil(rows / (4 * p.ty)), heads),
    };
  };
  const sgmat =
    forced === 'tiled'
      ? { fwd: null, dq: null }
      : sgmatStages(rt, planBase, {
          ...attentionTuning,
          reducedPrecision: attentionTuning.reducedPrecision ?? (forced === 'sgmat' ? true : undefined),
        });
  const fwd = sgmat.fwd ?? pick('fwd', attentionForwardWgsl);
  const dq = sgmat.dq ?? pick('dq', attentionQueryGradWgsl);
  const dkdv = pick('dkdv', attentionKeyGradWgsl);
  return fwd && dq && dkdv ? { fwd, dq, dkdv } : null;
}

export interface AttentionShapes {
  B: number;
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  dh: number;
  kvOffset: number;
}

/** The uniforms every attention kernel reads. */
const uniformsOf = (s: AttentionShapes, scale: number): Uint32Array =>
  attentionUniforms.pack({
    H: s.H,
    Hkv: s.Hkv,
    Tq: s.Tq,
    Tk: s.Tk,
    kvOffset: s.kvOffset,
    group: s.H / s.Hkv,
    scale,
  });

/**
 * The plan's forward kernel alone on contiguous tensors (no autograd record):
 * o `[B, H, Tq, dh]` (q's dtype) and the row logsumexp `[B, H, Tq]` (f32)
 * that the backward kernels read. q `[B, H, Tq, dh]`, k and v `[B, Hkv, Tk, dh]`,
 * docStart i32 `[B, Tq]`.
 */
export function attentionForward(
  rt: KernelRuntime,
  plan: AttentionPlan,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  docStart: Tensor | null,
  scale: number,
  s: AttentionShapes,
): { o: Tensor; lse: Tensor } {
  const o = output(q.backend, [s.B, s.H, s.Tq, s.dh], q.dtype);
  const lse = output(q.backend, [s.B, s.H, s.Tq], 'f32');
  rt.dispatch({
    pipelineKey: plan.fwd.key,
    makeCode: plan.fwd.code,
    bindings: [
      bind(q),
      bind(k),
      bind(v),
      ...(docStart ? [bind(docStart)] : []),
      bind(o, true),
      bind(lse, true),
    ],
    uniforms: uniformsOf(s, scale),
    workgroups: plan.fwd.grid(s.Tq, s.B * s.H),
  });
  return { o, lse };
}

/**
 * The plan's dq kernel alone on contiguous tensors: dq `[B, H, Tq, dh]` and
 * Δ = rowsum(dO ∘ O) `[B, H, Tq]` (f32) from q, k, v, o, dO (`[B, H, Tq, dh]`
 * like o), the forward's logsumexp and docStart.
 */
export function attentionQueryGrad(
  rt: KernelRuntime,
  plan: AttentionPlan,
  [q, k, v, o, g, lse, docStart]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | null],
  scale: number,
  s: AttentionShapes,
): { dq: Tensor; delta: Tensor } {
  const dq = output(q.backend, q.shape, q.dtype);
  const delta = output(q.backend, [s.B, s.H, s.Tq], 'f32');
  rt.dispatch({
    pipelineKey: plan.dq.key,
    makeCode: plan.dq.code,
    bindings: [
      bind(q),
      bind(k),
      bind(v),
      bind(o),
      bind(g),
      bind(lse),
      ...(docStart ? [bind(docStart)] : []),
      bind(dq, true),
      bind(delta, true),
    ],
    uniforms: uniformsOf(s, scale),
    workgroups: plan.dq.grid(s.Tq, s.B * s.H),
  });
  return { dq, delta };
}

/**
 * The fused WebGPU causal attention: a forward kernel saving the row
 * logsumexp, a dq kernel (also writing Δ = rowsum(dO ∘ O)) and a dk/dv
 * kernel, all recomputing probabilities tile by tile (no `[T, T]` buffer).
 * Arguments are validated by `causalAttention`.
 */
export function causalAttentionFused(
  rt: KernelRuntime,
  plan: AttentionPlan,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  docStart: Tensor | undefined,
  scale: number,
  s: AttentionShapes,
): Tensor {
  const backend = q.backend;
  const qc = raw(q);
  const kc = raw(k);
  const vc = raw(v);
  const dc = docStart ? raw(docStart) : null;
  const uniforms = uniformsOf(s, scale);
  const { o, lse } = attentionForward(rt, plan, qc, kc, vc, dc, scale, s);
  const saved = [qc, kc, vc, o, lse, ...(dc ? [dc] : [])];
  record('causalAttention', [q, k, v], [o], saved, ([g], sv) => {
    const [sq, sk, svv, so, sl] = [sv[0]!, sv[1]!, sv[2]!, sv[3]!, sv[4]!];
    const sd = dc ? sv[5]! : null;
    const gc = raw(g!);
    const sdocs = sd ? [bind(sd)] : [];
    const { dq, delta } = attentionQueryGrad(rt, plan, [sq, sk, svv, so, gc, sl, sd], scale, s);
    const dk = output(backend, k.shape, k.dtype);
    const dv = output(backend, v.shape, v.dtype);
    rt.dispatch({
      pipelineKey: plan.dkdv.key,
      makeCode: plan.dkdv.code,
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
      workgroups: plan.dkdv.grid(s.Tk, s.B * s.Hkv),
    });
    return [dq, dk, dv];
  });
  for (const t of [qc, kc, vc, dc, lse]) t?.dispose();
  return o;
}
