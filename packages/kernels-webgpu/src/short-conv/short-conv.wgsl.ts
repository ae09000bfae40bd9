import {
  type ConvLoopParams,
  convBackwardWgsl,
  convForwardWgsl,
  convLoopKey,
  each,
  type TapSource,
} from '../conv-core/conv-loop.wgsl.js';

/** Compile-time parameters of the static short-conv kernels. */
export interface ShortConvKernelParams extends ConvLoopParams {
  readonly bias: boolean;
  readonly silu: boolean;
}

/** Partial rows per chunk in the backward: dW (W rows) then dbias (1 row, when there is a bias). */
export const shortConvPartialRows = (p: ShortConvKernelParams): number => p.W + (p.bias ? 1 : 0);

/** Taps are the per-channel weights, held in registers; bias and SiLU come after the sum. */
const source = (p: ShortConvKernelParams): TapSource => {
  const { W, dtype } = p;
  const conv = each(W, (w) => `k${w} * xw${w} * m${w}`, ' + ');
  return {
    key: `bias=${p.bias ? 1 : 0}|silu=${p.silu ? 1 : 0}`,
    inputs: [['wb', dtype], ...(p.bias ? [['bb', dtype] as const] : [])],
    gradOutputs: [['part', 'f32']],
    setup: `${each(W, (w) => `let k${w} = f32(wb[${w}u * u.D + c]);`)}\n  ${p.bias ? 'let bias = f32(bb[c]);' : ''}`,
    taps: '',
    epilogue: `${p.bias ? 'acc += bias;' : ''}\n    ${p.silu ? 'acc = acc / (1.0 + exp(-acc));' : ''}`,
    preGradient: p.silu
      ? `let pre = ${conv}${p.bias ? ' + bias' : ''};
    let sg = 1.0 / (1.0 + exp(-pre));
    g = dyv * sg * (1.0 + pre * (1.0 - sg));`
      : '',
    accumulators: `${each(W, (w) => `var aS${w} = 0.0;`)}\n  var aB = 0.0;`,
    consume: `${each(W, (w) => `aS${w} += dK${w};`, '\n      ')}\n      aB += g;`,
    finish: `${each(W, (w) => `part[(chunk * u.rows + ${w}u) * u.D + c] = aS${w};`, '\n  ')}
  ${p.bias ? `part[(chunk * u.rows + ${W}u) * u.D + c] = aB;` : ''}`,
    backwardNeedsX: true,
  };
};

export const shortConvForwardKey = (p: ShortConvKernelParams): string =>
  `shortConv.fwd|${convLoopKey(p)}|${source(p).key}`;
export const shortConvBackwardKey = (p: ShortConvKernelParams): string =>
  `shortConv.bwd|${convLoopKey(p)}|${source(p).key}`;
export const shortConvForwardWgsl = (p: ShortConvKernelParams): string => convForwardWgsl(p, source(p));
export const shortConvBackwardWgsl = (p: ShortConvKernelParams): string => convBackwardWgsl(p, source(p));
