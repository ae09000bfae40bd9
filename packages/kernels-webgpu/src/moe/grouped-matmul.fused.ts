import { record, type Tensor, TensorError } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output } from '../common/gpu.js';
import { bind, raw } from './device.js';
import {
  GROUP_TILE,
  type GroupedMatmulMode,
  groupedMatmulKey,
  groupedMatmulUniforms,
  groupedMatmulWgsl,
} from './grouped-matmul.wgsl.js';

/**
 * One grouped-matmul launch. `xw`/`xwT`: `a [R, L]` times each row's expert
 * matrix of `w` into `[R, N]`; `wgrad`: `[E, L, N]` from `a [R, L]` and
 * `b [R, N]` (all raw, contiguous).
 */
function launch(
  rt: KernelRuntime,
  mode: GroupedMatmulMode,
  a: Tensor,
  b: Tensor,
  offsets: Tensor,
  dims: { R: number; L: number; N: number; E: number },
): Tensor {
  const { R, L, N, E } = dims;
  const dtype = a.dtype === 'f16' ? 'f16' : 'f32';
  const limit = rt.maxWorkgroupsPerDimension;
  const colTiles = Math.ceil(N / GROUP_TILE);
  let workgroups: [number, number, number];
  let gridX = 0;
  let out: Tensor;
  if (mode === 'wgrad') {
    const rowTiles = Math.ceil(L / GROUP_TILE);
    if (E > limit || rowTiles > limit || colTiles > limit)
      throw new TensorError(
        'groupedMatmul',
        `E=${E}, ${L}×${N} weight tiles exceed the dispatch limit ${limit}`,
      );
    workgroups = [colTiles, rowTiles, E];
    out = output(a.backend, [E, L, N], a.dtype);
  } else {
    if (colTiles > limit)
      throw new TensorError('groupedMatmul', `${N} output columns exceed the dispatch limit ${limit}`);
    // Σ_e ⌈n_e / 64⌉ ≤ ⌈R / 64⌉ + E row tiles; the spare slots exit at once.
    const folded = foldGrid(Math.ceil(R / GROUP_TILE) + E, limit);
    gridX = folded.gridX;
    workgroups = [colTiles, folded.grid[0], folded.grid[1]];
    out = output(a.backend, [R, N], a.dtype);
  }
  rt.dispatch({
    pipelineKey: groupedMatmulKey({ dtype, mode }),
    makeCode: () => groupedMatmulWgsl({ dtype, mode }),
    bindings: [bind(a), bind(b), bind(offsets), bind(out, true)],
    uniforms: groupedMatmulUniforms.pack({ R, L, N, E, gridX }),
    workgroups,
  });
  return out;
}

/**
 * The WebGPU grouped matmul `y[r] = x[r] · w[e(r)]`: one forward launch; the
 * backward is one `xwT` launch for dx and one `wgrad` launch for dw.
 * Arguments are validated by `groupedMatmul`.
 */
export function groupedMatmulFused(rt: KernelRuntime, x: Tensor, w: Tensor, offsets: Tensor): Tensor {
  const [R, K] = x.shape as [number, number];
  const [E, , M] = w.shape as [number, number, number];
  const xc = raw(x);
  const wc = raw(w);
  const oc = raw(offsets);
  const y = launch(rt, 'xw', xc, wc, oc, { R, L: K, N: M, E });
  record('groupedMatmul', [x, w], [y], [xc, wc, oc], ([gy], [sx, sw, so]) => {
    const g = raw(gy!);
    const dx = x.requiresGrad ? launch(rt, 'xwT', g, sw!, so!, { R, L: M, N: K, E }) : null;
    const dw = w.requiresGrad ? launch(rt, 'wgrad', sx!, g, so!, { R, L: K, N: M, E }) : null;
    g.dispose();
    return [dx, dw];
  });
  xc.dispose();
  wc.dispose();
  oc.dispose();
  return y;
}
