import { PAD, PAD_F32, roundUp, type SgmatKernelBase, SUBGROUP } from './causal-attention.sgmat-ops.js';

/**
 * Launch-shape checks, grid and pipeline key shared by the subgroup-matrix
 * attention kernels (`causal-attention.sgmat.wgsl.ts`, `causal-attention.sgmat-dq.wgsl.ts`).
 */

/** The launch fields both kernels have. */
export interface SgmatLaunchBase {
  /** Subgroups (of 32 lanes) per workgroup. */
  readonly subgroups: number;
  /** Query rows per subgroup: 16 (two lanes per row in the row-wise passes) or 32 (one lane per row). */
  readonly sgRows: 16 | 32;
  /** Keys per streamed tile (a multiple of 16). */
  readonly bk: number;
}

/** The parameters both kernels have. */
export interface SgmatCommonParams extends SgmatLaunchBase, SgmatKernelBase {
  readonly docs: boolean;
  /** Grid `(B·H, blocks)`, last (heaviest) query blocks first; else `(blocks, B·H)`. */
  readonly heavyFirst: boolean;
}

/** Why this matrix shape and launch cannot make a kernel, or null. */
export function sgmatLaunchInvalid(p: SgmatLaunchBase & Pick<SgmatKernelBase, 'shape'>): string | null {
  const { m, n, k } = p.shape;
  if (m !== 16 || ![8, 16].includes(n) || ![8, 16].includes(k)) return `shape ${m}x${n}x${k} unsupported`;
  if (p.bk % 16 !== 0 || p.bk < 16) return `bk ${p.bk} is not a multiple of 16`;
  if (p.sgRows !== 16 && p.sgRows !== 32) return `sgRows ${p.sgRows} is not 16 or 32`;
  if (p.subgroups < 1) return 'no subgroups';
  return null;
}

/** Invocations per workgroup. */
export const sgmatThreads = (p: SgmatLaunchBase): number => p.subgroups * SUBGROUP;

/** Query rows per workgroup. */
export const sgmatBlockRows = (p: SgmatLaunchBase): number => p.subgroups * p.sgRows;

/**
 * The workgroup-memory dimensions both kernels share: `bq` query rows, the
 * head dim `dhp` padded with zeros to whole matrices, the leading dimensions
 * of the f16 `[row][d]` query tiles (`ldq`) and of the f32 tile (`lds`, wide
 * enough for a key tile's scores and for a row of the output), `lpr` lanes per row.
 */
export function sgmatBlockLayout(p: SgmatLaunchBase & { readonly dh: number }) {
  const dhp = roundUp(p.dh, 16);
  return {
    bq: sgmatBlockRows(p),
    dhp,
    ldq: dhp + PAD,
    lds: Math.max(p.bk, dhp) + PAD_F32,
    lpr: SUBGROUP / p.sgRows,
  };
}

/** Workgroup grid `[x, y]` for `rows` query rows of `heads` (batch, head) pairs. */
export function sgmatGrid(
  p: SgmatLaunchBase & { readonly heavyFirst: boolean },
  rows: number,
  heads: number,
): [number, number] {
  const blocks = Math.ceil(rows / sgmatBlockRows(p));
  return p.heavyFirst ? [heads, blocks] : [blocks, heads];
}

/** Pipeline key of `stage`; `launchFields` (`|name=value` parts) go after the tile size. */
export const sgmatKey = (stage: 'fwd' | 'dq', p: SgmatCommonParams, launchFields: string): string =>
  `causalAttention.${stage}|sgmat|${p.dtype}|dh=${p.dh}|docs=${p.docs ? 1 : 0}|sg=${p.subgroups}x${p.sgRows}|bk=${p.bk}` +
  `${launchFields}|${p.shape.m}x${p.shape.n}x${p.shape.k}|heavy=${p.heavyFirst ? 1 : 0}` +
  `|${p.emulate ? 'emulated' : `${p.syntax.builtins},${p.syntax.diagnostic}`}`;
