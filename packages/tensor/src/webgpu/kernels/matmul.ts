import type { DType } from '../../dtype.js';
import type { GpuRuntime } from '../runtime.js';
import { matmulCaps } from './matmul-caps.js';
import { type MatmulOperand, matmulProblem } from './matmul-problem.js';
import { type MatmulTuning, type MatmulVariantName, selectMatmulVariant } from './matmul-variants.js';

export type { MatmulOperand } from './matmul-problem.js';
export type { MatmulTuning, MatmulVariantName } from './matmul-variants.js';

/**
 * out[b] = a[b] @ b[b] into contiguous `[batch, m, n]` (see `Backend.matmul`),
 * by the variant `matmul-variants.ts` selects for this device and shape.
 * Returns the variant's name (benchmarks and tests report it).
 */
export function launchMatmul(
  rt: GpuRuntime,
  a: MatmulOperand,
  b: MatmulOperand,
  out: GPUBuffer,
  outDtype: DType,
  tuning: MatmulTuning = {},
): MatmulVariantName | null {
  const [batch, m] = a.shape;
  const n = b.shape[2];
  if (batch === 0 || m === 0 || n === 0) return null;
  const p = matmulProblem(a, b, out, outDtype);
  const ctx = { rt, caps: matmulCaps(rt.device), tuning };
  const variant = selectMatmulVariant(p, ctx);
  variant.launch(p, ctx);
  return variant.name;
}
