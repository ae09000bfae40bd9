import {
  concat,
  contiguous,
  matmul,
  mul,
  narrow,
  neg,
  record,
  reshape,
  sum,
  type Tensor,
  transpose,
  zeros,
} from '@dynconv/tensor';
import { type Binding, foldGrid, gpuBuffer, type KernelRuntime, output } from '../common/gpu.js';
import type { DeltaChunkScanInputs, DeltaChunkScanResult } from './chunk-scan.js';
import {
  type ChunkScanKernelParams,
  chunkScanBackwardKey,
  chunkScanBackwardWgsl,
  chunkScanForwardKey,
  chunkScanForwardWgsl,
  chunkScanUniforms,
  WORKGROUP,
} from './chunk-scan.wgsl.js';

/** A contiguous, offset-0 handle with no graph (the kernels index raw buffers). */
const raw = (t: Tensor): Tensor => contiguous(t.detach());
const bind = (t: Tensor, write = false): Binding => ({ buffer: gpuBuffer(t), ...(write ? { write } : {}) });
const flat = (t: Tensor): Tensor => reshape(t, [t.size]);

function launch(
  rt: KernelRuntime,
  key: string,
  code: () => string,
  bindings: Binding[],
  dims: { BH: number; nC: number; V: number },
): void {
  const total = dims.BH * dims.V;
  const folded = foldGrid(Math.ceil(total / WORKGROUP), rt.maxWorkgroupsPerDimension);
  rt.dispatch({
    pipelineKey: key,
    makeCode: code,
    bindings,
    uniforms: chunkScanUniforms.pack({ ...dims, total, gridX: folded.gridX }),
    workgroups: folded.grid,
  });
}

/**
 * The fused WebGPU chunk scan of the gated delta rule: one forward kernel
 * (outputs, corrections u and every entering state), and for the gradients
 * one reverse kernel (du and the state gradient after every chunk) followed
 * by batched matmuls for the reductions over value columns:
 * `dW = −du Sᵀ`, `dQd = do Sᵀ`, `dP = do uᵀ`, `dKd = u dS'ᵀ`, `dg = Σ S ⊙ dS'`.
 * f32 only; arguments are validated by `deltaChunkScan`.
 */
export function deltaChunkScanFused(rt: KernelRuntime, x: DeltaChunkScanInputs): DeltaChunkScanResult {
  const [B, H, nC, Q, V] = x.U.shape as [number, number, number, number, number];
  const K = x.W.shape[4]!;
  const BH = B * H;
  const backend = x.U.backend;
  const p: ChunkScanKernelParams = { K, Q };
  const [U, W, Qd, P, Kd] = [x.U, x.W, x.qDecayed, x.intra, x.kToEnd].map(raw) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ];
  const g = raw(x.chunkDecay);
  const aux = concat([flat(g), flat(raw(x.initial))], 0);
  const ou = output(backend, [2, B, H, nC, Q, V], 'f32');
  const states = output(backend, [B, H, nC + 1, K, V], 'f32');
  launch(
    rt,
    chunkScanForwardKey(p),
    () => chunkScanForwardWgsl(p),
    [bind(U), bind(W), bind(Qd), bind(P), bind(Kd), bind(aux), bind(ou, true), bind(states, true)],
    {
      BH,
      nC,
      V,
    },
  );
  const o = reshape(narrow(ou, 0, 0, 1), [B, H, nC, Q, V]);
  const corrections = reshape(narrow(ou, 0, 1, 1), [B, H, nC, Q, V]);
  const finalState = reshape(narrow(states, 2, nC, 1), [B, H, K, V]);

  const inputs = [x.U, x.W, x.qDecayed, x.intra, x.kToEnd, x.chunkDecay, x.initial];
  record(
    'deltaChunkScan',
    inputs,
    [o, finalState],
    [W, Qd, P, Kd, g, states, corrections],
    ([dOut, dFinal], saved) => {
      const [sW, sQd, sP, sKd, sg, sStates, sU] = saved as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      const dO = dOut ? raw(dOut) : zeros([B, H, nC, Q, V], { backend });
      const dS = dFinal ? raw(dFinal) : zeros([B, H, K, V], { backend });
      const backAux = concat([flat(sg), flat(dS)], 0);
      const du = output(backend, [B, H, nC, Q, V], 'f32');
      const ds = output(backend, [BH * (nC + 1) * K * V], 'f32');
      launch(
        rt,
        chunkScanBackwardKey(p),
        () => chunkScanBackwardWgsl(p),
        [bind(dO), bind(sP), bind(sKd), bind(sQd), bind(sW), bind(backAux), bind(du, true), bind(ds, true)],
        {
          BH,
          nC,
          V,
        },
      );
      const dAfter = reshape(narrow(ds, 0, 0, BH * nC * K * V), [B, H, nC, K, V]);
      const dInitial = reshape(narrow(ds, 0, BH * nC * K * V, BH * K * V), [B, H, K, V]);
      const entering = narrow(sStates, 2, 0, nC); // S before each chunk
      const need = inputs.map((t) => t.requiresGrad);
      return [
        need[0] ? du : null,
        need[1] ? neg(matmul(du, transpose(entering))) : null,
        need[2] ? matmul(dO, transpose(entering)) : null,
        need[3] ? matmul(dO, transpose(sU)) : null,
        need[4] ? matmul(sU, transpose(dAfter)) : null,
        need[5] ? reshape(sum(mul(entering, dAfter), [-2, -1]), x.chunkDecay.shape) : null,
        need[6] ? dInitial : null,
      ];
    },
  );
  for (const t of [U, W, Qd, P, Kd, g, aux, ou, states, corrections]) t.dispose();
  return { o, finalState };
}
