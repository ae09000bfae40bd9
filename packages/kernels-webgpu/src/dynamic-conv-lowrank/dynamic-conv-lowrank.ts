import type { Tensor } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import {
  assertFloatLike,
  assertSameBackend,
  checkDocStart,
  checkLowRank,
  checkSequence,
  checkStaticWeight,
} from '../common/validate.js';
import type { DynamicConvOptions } from '../dynamic-conv-headwise/dynamic-conv-headwise.ref.js';
import { dynamicConvLowRankFused } from './dynamic-conv-lowrank.fused.js';
import { dynamicConvLowRankRef } from './dynamic-conv-lowrank.ref.js';

const OP = 'dynamicConvLowRank';

/** Validates the arguments of a low-rank dynamic convolution; returns R and W. */
export function checkLowRankArgs(op: string, x: Tensor, z: Tensor, u: Tensor, options: DynamicConvOptions) {
  const { B, T, D } = checkSequence(op, x);
  assertSameBackend(op, { x, z, u, static: options.static, docStart: options.docStart });
  assertFloatLike(op, x, { z, u, static: options.static });
  const dims = checkLowRank(op, z, u, x, B, T, D);
  if (options.static) checkStaticWeight(op, 'static', options.static, x, D, dims.W);
  if (options.docStart) checkDocStart(op, options.docStart, x, B, T);
  return dims;
}

/**
 * Low-rank dynamic short convolution (the DSC paper's main variant), differentiable
 * on every backend: taps `K[b, t] = z[b, t] · U` (`[W, D]`, generated per token),
 * `y[b, t, c] = Σ_{w<W} (K[b, t, w, c] + S[w, c]) · x[b, t - w, c] (+ x[b, t, c])`;
 * lag order, zero before 0 and before the token's document start.
 *
 * @param x `[B, T, D]`
 * @param z `[B, T, R]`, R in 1..64
 * @param u `[R, W*D]`, tap-major (`u[r, w*D + c]`), W in 1..8
 * @returns `[B, T, D]`
 */
export function dynamicConvLowRank(
  x: Tensor,
  z: Tensor,
  u: Tensor,
  options: DynamicConvOptions = {},
): Tensor {
  checkLowRankArgs(OP, x, z, u, options);
  const rt = runtimeOf(x.backend);
  if (rt && supportsDType(rt, x.dtype)) return dynamicConvLowRankFused(rt, x, z, u, options);
  return dynamicConvLowRankRef(x, z, u, options);
}
