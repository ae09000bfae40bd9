import { matmulCaps, type SgMatShape, type SgMatSyntax } from '@dynconv/tensor';
import type { KernelRuntime } from '../common/gpu.js';
import {
  type SgmatAttentionLaunch,
  type SgmatAttentionParams,
  sgmatAttentionBytes,
  sgmatAttentionForwardWgsl,
  sgmatAttentionKey,
} from './causal-attention.sgmat.wgsl.js';
import {
  type SgmatQueryGradLaunch,
  type SgmatQueryGradParams,
  sgmatQueryGradBytes,
  sgmatQueryGradKey,
  sgmatQueryGradWgsl,
} from './causal-attention.sgmat-dq.wgsl.js';
import { type SgmatCommonParams, sgmatGrid, sgmatLaunchInvalid } from './causal-attention.sgmat-launch.js';

/**
 * Launch shapes of the subgroup-matrix forward (reduced precision), first
 * fitting the device's workgroup memory used: at dh=64 the first two take
 * 45 KiB (64 queries on 4 subgroups, 64-key tiles), the fourth 36 KiB; the
 * last fits the emulation (f32 workgroup arrays) on llvmpipe's 32 KiB at
 * dh=64. H100 sweep at B=8 H=12 T=1024 dh=64 (bench:attention --sweep): K
 * staged `[key][d]` with column-major loads 0.453 ms, staged transposed
 * 0.531 ms (the transposing stores cost more than the slower loads save),
 * the other shapes 0.62-0.85 ms.
 */
export const SGMAT_LAUNCHES: readonly SgmatAttentionLaunch[] = [
  { subgroups: 4, sgRows: 16, bk: 64, kTransposed: false },
  { subgroups: 4, sgRows: 16, bk: 64, kTransposed: true },
  { subgroups: 2, sgRows: 32, bk: 64, kTransposed: true },
  { subgroups: 4, sgRows: 16, bk: 32, kTransposed: true },
  { subgroups: 2, sgRows: 16, bk: 32, kTransposed: true },
  { subgroups: 2, sgRows: 16, bk: 16, kTransposed: true },
];

/**
 * Launch shapes of the subgroup-matrix dq kernel, first fitting used: at dh=64
 * the first takes 35 KiB (32 queries on 2 subgroups, 32-key tiles, transposed
 * K and V copies), the second 41 KiB; the last fits the emulation on
 * llvmpipe at dh=64. Not yet tuned on the H100.
 */
export const SGMAT_DQ_LAUNCHES: readonly SgmatQueryGradLaunch[] = [
  { subgroups: 2, sgRows: 16, bk: 32, transposed: true },
  { subgroups: 2, sgRows: 16, bk: 64, transposed: false },
  { subgroups: 2, sgRows: 16, bk: 32, transposed: false },
  { subgroups: 1, sgRows: 16, bk: 16, transposed: false },
];

/** Lazy-rescale threshold of the subgroup-matrix forward: probabilities up to e^8 before O is rescaled. */
export const SGMAT_TAU = 8;

/** The reduced-precision switches of `attentionTuning` (see there). */
export interface SgmatTuning {
  heavyFirst?: boolean | undefined;
  reducedPrecision?: boolean | undefined;
  sgmatLaunch?: SgmatAttentionLaunch | undefined;
  sgmatTau?: number | undefined;
  sgmatDq?: boolean | undefined;
  sgmatDqLaunch?: SgmatQueryGradLaunch | undefined;
  sgmatEmulate?: SgMatShape | undefined;
}

/** One stage's kernel: pipeline key, WGSL and its grid for `rows` rows of `heads` heads. */
export interface SgmatStage {
  readonly key: string;
  readonly code: () => string;
  readonly grid: (rows: number, heads: number) => [number, number];
}

interface Base {
  readonly dtype: 'f32' | 'f16';
  readonly dh: number;
  readonly docs: boolean;
  readonly reducedPrecision?: boolean | undefined;
}

/**
 * The matrix shape, builtin spelling and emulation flag of the subgroup-matrix
 * kernels: the emulation when forced, else the device's probed f16 → f32 path
 * when reduced precision is on; null otherwise.
 */
function sgmatConfig(
  rt: KernelRuntime,
  base: Base,
  tuning: SgmatTuning,
): { shape: SgMatShape; syntax: SgMatSyntax; emulate: boolean } | null {
  if (tuning.sgmatEmulate)
    return {
      shape: tuning.sgmatEmulate,
      syntax: { builtins: 'template', diagnostic: 'chromium' },
      emulate: true,
    };
  if (!(tuning.reducedPrecision ?? base.reducedPrecision ?? false)) return null;
  const caps = matmulCaps(rt.device).subgroupMatrix;
  return caps ? { shape: caps.shape, syntax: caps.syntax, emulate: false } : null;
}

/** The first launch whose kernel is valid and fits the device's workgroup memory, as a stage. */
function firstFitting<L, P extends SgmatCommonParams>(
  rt: KernelRuntime,
  launches: readonly L[],
  params: (l: L) => P,
  bytes: (p: P) => number,
  key: (p: P) => string,
  code: (p: P) => string,
): SgmatStage | null {
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  for (const l of launches) {
    const p = params(l);
    if (!sgmatLaunchInvalid(p) && bytes(p) <= limit)
      return { key: key(p), code: () => code(p), grid: (rows, heads) => sgmatGrid(p, rows, heads) };
  }
  return null;
}

/**
 * The subgroup-matrix (tensor-core) kernels for these inputs: the forward
 * when reduced precision is on and the device has subgroup matrices (or the
 * emulation is forced), dq when `tuning.sgmatDq` is also set; null for a
 * stage that is off or fits no launch shape.
 */
export function sgmatStages(
  rt: KernelRuntime,
  base: Base,
  tuning: SgmatTuning,
): { fwd: SgmatStage | null; dq: SgmatStage | null } {
  const config = sgmatConfig(rt, base, tuning);
  if (!config) return { fwd: null, dq: null };
  const common = {
    dtype: base.dtype,
    dh: base.dh,
    docs: base.docs,
    ...config,
    heavyFirst: tuning.heavyFirst ?? true,
  };
  const fwd = firstFitting(
    rt,
    tuning.sgmatLaunch ? [tuning.sgmatLaunch] : SGMAT_LAUNCHES,
    (l): SgmatAttentionParams => ({ ...common, ...l, tau: tuning.sgmatTau ?? SGMAT_TAU }),
    sgmatAttentionBytes,
    sgmatAttentionKey,
    sgmatAttentionForwardWgsl,
  );
  const dq = tuning.sgmatDq
    ? firstFitting(
        rt,
        tuning.sgmatDqLaunch ? [tuning.sgmatDqLaunch] : SGMAT_DQ_LAUNCHES,
        (l): SgmatQueryGradParams => ({ ...common, ...l }),
        sgmatQueryGradBytes,
        sgmatQueryGradKey,
        sgmatQueryGradWgsl,
      )
    : null;
  return { fwd, dq };
}
