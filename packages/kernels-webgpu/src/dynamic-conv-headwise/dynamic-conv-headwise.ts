import type { Tensor } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import {
  assertFloatLike,
  assertSameBackend,
  checkDocStart,
  checkSequence,
  checkStaticWeight,
  checkTaps,
} from '../common/validate.js';
import { dynamicConvHeadwiseFused } from './dynamic-conv-headwise.fused.js';
import { type DynamicConvOptions, dynamicConvHeadwiseRef } from './dynamic-conv-headwise.ref.js';

export type { DynamicConvOptions } from './dynamic-conv-headwise.ref.js';

const OP = 'dynamicConvHeadwise';

/** Validates the arguments of a head-wise dynamic convolution; returns H, W and the head size. */
export function checkHeadwiseArgs(op: string, x: Tensor, taps: Tensor, options: DynamicConvOptions) {
  const { B, T, D } = checkSequence(op, x);
  assertSameBackend(op, { x, taps, static: options.static, docStart: options.docStart });
  assertFloatLike(op, x, { taps, static: options.static });
  const dims = checkTaps(op, taps, x, B, T, D);
  if (options.static) checkStaticWeight(op, 'static', options.static, x, D, dims.W);
  if (options.docStart) checkDocStart(op, options.docStart, x, B, T);
  return dims;
}

/**
 * Head-wise dynamic short convolution (DSC "general" kernel), differentiable on every backend:
 * `y[b, t, c] = Σ_{w<W} (taps[b, t, ⌊c/hs⌋, w] + S[w, c]) · x[b, t - w, c] (+ x[b, t, c])`,
 * hs = D / H channels share one generated filter; lag order, zero before 0 and
 * before the token's document start.
 *
 * @param x `[B, T, D]`
 * @param taps `[B, T, H, W]`, H dividing D, W in 1..8
 * @returns `[B, T, D]`
 */
export function dynamicConvHeadwise(x: Tensor, taps: Tensor, options: DynamicConvOptions = {}): Tensor {
  checkHeadwiseArgs(OP, x, taps, options);
  const rt = runtimeOf(x.backend);
  if (rt && supportsDType(rt, x.dtype)) return dynamicConvHeadwiseFused(rt, x, taps, options);
  return dynamicConvHeadwiseRef(x, taps, options);
}
