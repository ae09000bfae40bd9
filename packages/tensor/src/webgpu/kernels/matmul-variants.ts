import { TensorError } from '../../errors.js';
import type { GpuRuntime } from '../runtime.js';
import type { MatmulCaps } from './matmul-caps.js';
import { launchNaive } from './matmul-naive.js';
import type { MatmulProblem } from './matmul-problem.js';
import { launchSgmat, type SgMatTiling, sgmatParams, sgmatSplits, sgmatUnfit } from './matmul-sgmat.js';
import { launchTiled, type TiledTuning, tiledFits } from './matmul-tiled.js';

export type MatmulVariantName = 'subgroupMatrix' | 'registerTiled' | 'naive';

/** Overrides for benchmarking, tuning and tests; `undefined` picks by device and shape. */
export interface MatmulTuning extends TiledTuning {
  /** Force one variant (else `DYNCONV_MATMUL`, else automatic). Throws when it cannot run the problem. */
  variant?: MatmulVariantName;
  /**
   * Let f32 operands be rounded to f16 on load so that they can use tensor
   * cores (f32 accumulation and output). Default off, or
   * `DYNCONV_MATMUL_REDUCED_PRECISION=1`: the f32 path stays f32.
   */
  reducedPrecision?: boolean;
  /** Subgroup-matrix workgroup shape (else `SGMAT_TILINGS` by size). */
  sgmat?: Partial<SgMatTiling>;
}

/** What a variant sees besides the problem. */
export interface MatmulContext {
  readonly rt: GpuRuntime;
  readonly caps: MatmulCaps;
  readonly tuning: MatmulTuning;
}

/**
 * One matmul implementation. `supports` is the capability predicate (true, or
 * why not: device features, dtypes, limits); `worthIt` the shape threshold
 * automatic selection applies on top of it.
 */
export interface MatmulVariant {
  readonly name: MatmulVariantName;
  /** Lower is tried first. */
  readonly priority: number;
  readonly supports: (p: MatmulProblem, ctx: MatmulContext) => true | string;
  readonly worthIt: (p: MatmulProblem, ctx: MatmulContext) => boolean;
  readonly launch: (p: MatmulProblem, ctx: MatmulContext) => void;
}

const env = (name: string): string | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];

const reducedPrecision = (ctx: MatmulContext): boolean =>
  ctx.tuning.reducedPrecision ?? env('DYNCONV_MATMUL_REDUCED_PRECISION') === '1';

const float = (d: string): boolean => d === 'f32' || d === 'f16';

/**
 * Selection thresholds: subgroup matrices only when M and N hold at least one
 * 16 x 16 matrix and the product has 2^21 multiply-adds or more. Chosen, not
 * measured: every training shape benchmarked on the H100 (docs/results/
 * perf-notes.md, 8192 x 768 x 768 and up) ran 2-4x faster on subgroup
 * matrices; the crossover below that has not been swept.
 */
export const MATMUL_THRESHOLDS = { sgmatMinMacs: 2 ** 21, sgmatMinSide: 16 } as const;

/** The variants, by priority (peers.md B.7 rule 10). */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  {
    name: 'subgroupMatrix',
    priority: 0,
    supports: (p, ctx) => {
      const sg = ctx.caps.subgroupMatrix;
      if (!sg) return `no subgroup-matrix path: ${ctx.caps.subgroupMatrixNote}`;
      if (!float(p.a.dtype) || !float(p.b.dtype) || !float(p.outDtype)) return 'float operands only';
      if ((p.a.dtype === 'f32' || p.b.dtype === 'f32') && !reducedPrecision(ctx))
        return 'f32 operands need reducedPrecision (rounded to f16 on load)';
      return sgmatUnfit(ctx.rt, sgmatParams(p, sg, ctx.tuning.sgmat)) ?? true;
    },
    worthIt: (p) =>
      p.m >= MATMUL_THRESHOLDS.sgmatMinSide &&
      p.n >= MATMUL_THRESHOLDS.sgmatMinSide &&
      p.batch * p.m * p.n * p.k >= MATMUL_THRESHOLDS.sgmatMinMacs,
    launch: (p, ctx) =>
      launchSgmat(
        ctx.rt,
        p,
        sgmatParams(p, ctx.caps.subgroupMatrix!, ctx.tuning.sgmat),
        sgmatSplits(p, ctx.tuning.sgmat),
      ),
  },
  {
    name: 'registerTiled',
    priority: 1,
    supports: (p, ctx) =>
      !float(p.a.dtype) || !float(p.b.dtype) || !float(p.outDtype)
        ? 'float operands only'
        : tiledFits(ctx.rt) || 'workgroup memory below 16 KiB',
    worthIt: () => true,
    launch: (p, ctx) => launchTiled(ctx.rt, p, ctx.tuning),
  },
  {
    name: 'naive',
    priority: 9,
    supports: () => true,
    worthIt: () => true,
    launch: (p, ctx) => launchNaive(ctx.rt, p),
  },
];

const byName = new Map(MATMUL_VARIANTS.map((v) => [v.name, v]));

/**
 * The variant for `p`: the forced one (`tuning.variant`, else
 * `DYNCONV_MATMUL`), which must support the problem, else the
 * highest-priority variant that supports it and is worth it.
 */
export function selectMatmulVariant(p: MatmulProblem, ctx: MatmulContext): MatmulVariant {
  const forced = ctx.tuning.variant ?? env('DYNCONV_MATMUL');
  if (forced) {
    const v = byName.get(forced as MatmulVariantName);
    if (!v)
      throw new TensorError(
        'matmul',
        `unknown variant '${forced}' (one of ${[...byName.keys()].join(', ')})`,
      );
    const ok = v.supports(p, ctx);
    if (ok !== true) throw new TensorError('matmul', `variant ${forced} cannot run this matmul: ${ok}`);
    return v;
  }
  for (const v of MATMUL_VARIANTS) if (v.supports(p, ctx) === true && v.worthIt(p, ctx)) return v;
  return byName.get('naive')!;
}
