import type { Tensor } from '@dynconv/tensor';
import { runtimeOf, supportsDType } from '../common/gpu.js';
import {
  assertFloatLike,
  assertSameBackend,
  checkChannelVector,
  checkDocStart,
  checkSequence,
  checkStaticWeight,
} from '../common/validate.js';
import { shortConvFused } from './short-conv.fused.js';
import { type ShortConvOptions, shortConvRef } from './short-conv.ref.js';

export type { ShortConvOptions } from './short-conv.ref.js';

const OP = 'shortConv';

/** Validates the arguments of a static short convolution; returns W. */
export function checkShortConvArgs(op: string, x: Tensor, weight: Tensor, options: ShortConvOptions): number {
  const { B, T, D } = checkSequence(op, x);
  assertSameBackend(op, { x, weight, bias: options.bias, docStart: options.docStart });
  assertFloatLike(op, x, { weight, bias: options.bias });
  const W = checkStaticWeight(op, 'weight', weight, x, D);
  if (options.bias) checkChannelVector(op, 'bias', options.bias, x, D);
  if (options.docStart) checkDocStart(op, options.docStart, x, B, T);
  return W;
}

/**
 * Static causal depthwise short convolution, differentiable on every backend:
 * `y[b, t, c] = act(Σ_{w<W} weight[w, c] · x[b, t - w, c] + bias[c]) (+ x[b, t, c])`.
 * Tap w multiplies the input w steps back (lag order); inputs before 0 or
 * before the token's document start (`docStart`) count as 0.
 *
 * @param x `[B, T, D]`
 * @param weight `[W, D]`, W in 1..8
 * @returns `[B, T, D]`
 */
export function shortConv(x: Tensor, weight: Tensor, options: ShortConvOptions = {}): Tensor {
  checkShortConvArgs(OP, x, weight, options);
  const rt = runtimeOf(x.backend);
  if (rt && supportsDType(rt, x.dtype)) return shortConvFused(rt, x, weight, options);
  return shortConvRef(x, weight, options);
}
