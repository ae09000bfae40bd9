import { fmtShape, type Tensor, TensorError, tensor } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output, runtimeOf } from '../common/gpu.js';
import { Uniforms } from '../common/uniforms.js';
import { bind, raw } from './device.js';
import { type HostReadable, hostReadable } from './host.js';

const OP = 'invertPermutation';
const WORKGROUP = 256;
const uniforms = new Uniforms([
  ['n', 'u32'],
  ['gridX', 'u32'],
]);

/** One thread per entry: `out[perm[i]] = i` (entries out of range are skipped). */
const wgsl = (): string => `${uniforms.wgsl}
@group(0) @binding(1) var<storage, read> perm: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * u.gridX) * ${WORKGROUP}u + lid;
  if (i >= u.n) { return; }
  let p = perm[i];
  if (p >= 0 && u32(p) < u.n) { out[u32(p)] = i32(i); }
}`;

function invertOnDevice(rt: KernelRuntime, perm: Tensor): Tensor {
  const n = perm.shape[0]!;
  const pc = raw(perm);
  const out = output(perm.backend, [n], 'i32');
  const folded = foldGrid(Math.ceil(n / WORKGROUP), rt.maxWorkgroupsPerDimension);
  rt.dispatch({
    pipelineKey: `moe.invertPermutation|wg${WORKGROUP}`,
    makeCode: wgsl,
    bindings: [bind(pc), bind(out, true)],
    uniforms: uniforms.pack({ n, gridX: folded.gridX }),
    workgroups: folded.grid,
  });
  pc.dispose();
  return out;
}

function invertOnHost(b: HostReadable, perm: Tensor): Tensor {
  const p = b.readSync(perm.view());
  const n = p.length;
  const out = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (!(v >= 0 && v < n) || out[v] !== -1)
      throw new TensorError(OP, `not a permutation of 0..${n - 1}: entry ${i} is ${v}`);
    out[v] = i;
  }
  return tensor(out, { shape: [n], dtype: 'i32', backend: b });
}

/**
 * The inverse of a permutation, `out[perm[i]] = i` (i32 `[n]` → i32 `[n]`),
 * in O(n) on either backend (a scatter-add would scan the whole index list
 * per output on WebGPU). A non-permutation throws on the CPU and is not
 * checked on WebGPU.
 */
export function invertPermutation(perm: Tensor): Tensor {
  if (perm.dtype !== 'i32' || perm.rank !== 1)
    throw new TensorError(OP, `perm must be i32 [n], got ${perm.dtype}${fmtShape(perm.shape)}`);
  const rt = runtimeOf(perm.backend);
  if (rt) return invertOnDevice(rt, perm);
  const host = hostReadable(perm.backend);
  if (!host) throw new TensorError(OP, `not available on ${perm.backend.name}`);
  return invertOnHost(host, perm);
}
