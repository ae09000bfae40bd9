import { record, reshape, type Tensor } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import {
  bind,
  chunking,
  convTuning,
  dispatchTokenLoop,
  raw,
  sumPartials,
  sumPartialsInTwo,
} from '../conv-core/conv-launch.js';
import type { ShortConvOptions } from './short-conv.ref.js';
import {
  type ShortConvKernelParams,
  shortConvBackwardKey,
  shortConvBackwardWgsl,
  shortConvForwardKey,
  shortConvForwardWgsl,
  shortConvPartialRows,
} from './short-conv.wgsl.js';

/**
 * The fused WebGPU static short convolution: one forward kernel, one backward
 * kernel (dx, and per-chunk partials of dW and dbias), one partial-sum pass.
 * Arguments are validated by `shortConv`.
 */
export function shortConvFused(
  rt: KernelRuntime,
  x: Tensor,
  weight: Tensor,
  options: ShortConvOptions,
): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const W = weight.shape[0]!;
  const backend = x.backend;
  const p: ShortConvKernelParams = {
    dtype: x.dtype === 'f16' ? 'f16' : 'f32',
    W,
    docs: options.docStart !== undefined,
    residual: options.residual ?? false,
    workgroup: convTuning.workgroup,
    bias: options.bias !== undefined,
    silu: options.activation === 'silu',
  };
  const xc = raw(x);
  const wc = raw(weight);
  const bc = options.bias ? raw(options.bias) : null;
  const dc = options.docStart ? raw(options.docStart) : null;
  const params = [wc, ...(bc ? [bc] : [])];
  const y = output(backend, [B, T, D], x.dtype);
  dispatchTokenLoop(
    rt,
    {
      key: shortConvForwardKey(p),
      workgroup: p.workgroup,
      code: () => shortConvForwardWgsl(p),
      bindings: [bind(xc), ...params.map((t) => bind(t)), ...(dc ? [bind(dc)] : []), bind(y, true)],
    },
    { T, D, W },
    chunking(B, T, convTuning.forwardChunk),
  );
  const inputs = [x, weight, ...(options.bias ? [options.bias] : [])];
  record('shortConv', inputs, [y], [xc, ...params, ...(dc ? [dc] : [])], ([gy], saved) => {
    const [sx, sw] = [saved[0]!, saved[1]!];
    const sb = p.bias ? saved[2]! : null;
    const sd = p.docs ? saved[saved.length - 1]! : null;
    const g = raw(gy!);
    const rows = shortConvPartialRows(p);
    const chunks = chunking(B, T, convTuning.backwardChunk);
    const dx = output(backend, [B, T, D], x.dtype);
    const part = output(backend, [chunks.numChunks * rows * D], 'f32');
    dispatchTokenLoop(
      rt,
      {
        key: shortConvBackwardKey(p),
        workgroup: p.workgroup,
        code: () => shortConvBackwardWgsl(p),
        bindings: [
          bind(g),
          bind(sx),
          bind(sw),
          ...(sb ? [bind(sb)] : []),
          ...(sd ? [bind(sd)] : []),
          bind(dx, true),
          bind(part, true),
        ],
      },
      { T, D, W, rows },
      chunks,
    );
    // dw and db in buffers of their own (the fused AdamW takes whole buffers, not views).
    const [dwFlat, db] = sb
      ? sumPartialsInTwo(rt, backend, part, chunks.numChunks, rows * D, W * D, weight.dtype)
      : [sumPartials(rt, backend, part, chunks.numChunks, rows * D, weight.dtype), null];
    return [dx, reshape(dwFlat, [W, D]), ...(db ? [db] : [])];
  });
  for (const t of [xc, wc, bc, dc]) t?.dispose();
  return y;
}
