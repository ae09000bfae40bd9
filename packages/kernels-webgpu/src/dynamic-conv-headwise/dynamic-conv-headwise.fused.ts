import { record, reshape, type Tensor } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output } from '../common/gpu.js';
import { bind, chunking, convTuning, dispatchTokenLoop, raw, sumPartials } from '../conv-core/conv-launch.js';
import { convUniforms } from '../conv-core/conv-loop.wgsl.js';
import type { DynamicConvOptions } from './dynamic-conv-headwise.ref.js';
import {
  type HeadwiseKernelParams,
  type HeadwiseTapGradParams,
  headwiseBackwardKey,
  headwiseBackwardWgsl,
  headwiseForwardKey,
  headwiseForwardWgsl,
  headwiseTapGradKey,
  headwiseTapGradWgsl,
} from './dynamic-conv-headwise.wgsl.js';

const TAP_GRAD_WORKGROUP = 64;

/**
 * The head size whose dtaps the token loop reduces with subgroup shuffles, or
 * 0. Needs the `subgroups` feature, a power-of-two head size no larger than
 * the smallest subgroup, and workgroups made of whole subgroups, so that each
 * head's channels (consecutive invocations) share a subgroup in an aligned
 * block of lanes; that relies on invocations filling subgroups in
 * local_invocation_index order, as GPUs do in practice (the device check of
 * the benchmark verifies it).
 */
function subgroupHead(rt: KernelRuntime, hs: number, workgroup: number): number {
  if (hs <= 1 || (hs & (hs - 1)) !== 0 || !rt.device.features.has('subgroups')) return 0;
  const info = rt.device.adapterInfo as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
  const min = info?.subgroupMinSize ?? 0;
  const max = info?.subgroupMaxSize ?? 0;
  return hs <= min && max > 0 && workgroup % max === 0 ? hs : 0;
}

/**
 * The fused WebGPU head-wise dynamic convolution. Forward: one token-loop
 * kernel. Backward: the token loop writes dx, the dS partials and dtaps (head
 * size 1: per channel; head sizes up to the subgroup size: summed over the
 * head's lanes with subgroup shuffles); otherwise a (token, head) kernel
 * reduces dtaps over the head's channels. dS partials are summed by a second pass.
 */
export function dynamicConvHeadwiseFused(
  rt: KernelRuntime,
  x: Tensor,
  taps: Tensor,
  options: DynamicConvOptions,
): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const [, , H, W] = taps.shape as [number, number, number, number];
  const hs = D / H;
  const backend = x.backend;
  const p: HeadwiseKernelParams = {
    dtype: x.dtype === 'f16' ? 'f16' : 'f32',
    W,
    docs: options.docStart !== undefined,
    residual: options.residual ?? false,
    workgroup: convTuning.workgroup,
    static: options.static !== undefined,
    perChannel: hs === 1,
    subgroupHead: subgroupHead(rt, hs, convTuning.workgroup),
  };
  const xc = raw(x);
  const kc = raw(taps);
  const sc = options.static ? raw(options.static) : null;
  const dc = options.docStart ? raw(options.docStart) : null;
  const y = output(backend, [B, T, D], x.dtype);
  const dims = { T, D, H, hs, W };
  dispatchTokenLoop(
    rt,
    {
      key: headwiseForwardKey(p),
      workgroup: p.workgroup,
      code: () => headwiseForwardWgsl(p),
      bindings: [bind(xc), bind(kc), ...(sc ? [bind(sc)] : []), ...(dc ? [bind(dc)] : []), bind(y, true)],
    },
    dims,
    chunking(B, T, convTuning.forwardChunk),
  );
  const inputs = [x, taps, ...(options.static ? [options.static] : [])];
  const saved = [xc, kc, ...(sc ? [sc] : []), ...(dc ? [dc] : [])];
  record('dynamicConvHeadwise', inputs, [y], saved, ([gy], s) => {
    const [sx, sk] = [s[0]!, s[1]!];
    const ss = p.static ? s[2]! : null;
    const sd = p.docs ? s[s.length - 1]! : null;
    const g = raw(gy!);
    const chunks = chunking(B, T, convTuning.headwiseBackwardChunk);
    const dx = output(backend, [B, T, D], x.dtype);
    const dtaps = output(backend, [B, T, H, W], taps.dtype);
    const part = ss ? output(backend, [chunks.numChunks * W * D], 'f32') : null;
    dispatchTokenLoop(
      rt,
      {
        key: headwiseBackwardKey(p),
        workgroup: p.workgroup,
        code: () => headwiseBackwardWgsl(p),
        bindings: [
          bind(g),
          bind(sx),
          bind(sk),
          ...(ss ? [bind(ss)] : []),
          ...(sd ? [bind(sd)] : []),
          bind(dx, true),
          ...(p.perChannel || p.subgroupHead > 1 ? [bind(dtaps, true)] : []),
          ...(part ? [bind(part, true)] : []),
        ],
      },
      { ...dims, rows: W },
      chunks,
    );
    if (!p.perChannel && p.subgroupHead === 0) {
      const q: HeadwiseTapGradParams = {
        dtype: p.dtype,
        W,
        docs: p.docs,
        workgroup: TAP_GRAD_WORKGROUP,
        vec: hs % 4 === 0,
      };
      const folded = foldGrid(Math.ceil((B * T * H) / TAP_GRAD_WORKGROUP), rt.maxWorkgroupsPerDimension);
      rt.dispatch({
        pipelineKey: headwiseTapGradKey(q),
        makeCode: () => headwiseTapGradWgsl(q),
        bindings: [bind(g), bind(sx), ...(sd ? [bind(sd)] : []), bind(dtaps, true)],
        uniforms: convUniforms.pack({ T, D, H, hs, count: B * T, gridX: folded.gridX }),
        workgroups: folded.grid,
      });
    }
    const dS = part
      ? reshape(sumPartials(rt, backend, part, chunks.numChunks, W * D, options.static!.dtype), [W, D])
      : null;
    return [dx, dtaps, ...(ss ? [dS] : [])];
  });
  for (const t of [xc, kc, sc, dc]) t?.dispose();
  return y;
}
