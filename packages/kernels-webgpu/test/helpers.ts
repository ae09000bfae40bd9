import { CpuBackend, type Tensor, tensor } from '@dynconv/tensor';
import { type InputSpec, testRng } from '@dynconv/tensor/testing';

/** The f32 CPU backend, checked against the float64 CPU reference like any other backend. */
export const cpuF32 = new CpuBackend({ precision: 'f32', poison: true });

export const f = (...shape: number[]): InputSpec => ({ shape });

/**
 * docStart values for `[B, T]` from document start positions per batch row
 * (row b uses `starts[b % starts.length]`; 0 is implied).
 */
export const docStartValues = (B: number, T: number, starts: readonly (readonly number[])[]): number[] => {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const cuts = starts[b % starts.length]!;
    for (let t = 0; t < T; t++) out.push(Math.max(0, ...cuts.filter((s) => s <= t)));
  }
  return out;
};

/** An i32 `[B, T]` docStart input spec for checkOp (not differentiated). */
export const docStartSpec = (B: number, T: number, starts: readonly (readonly number[])[]): InputSpec => {
  const values = docStartValues(B, T, starts);
  return { shape: [B, T], dtype: 'i32', init: (i) => values[i]! };
};

/** A seeded normal tensor. */
export const randomTensor = (
  shape: readonly number[],
  seed: number,
  backend: CpuBackend | Tensor['backend'] = cpuF32,
  scale = 1,
): Tensor => {
  const rng = testRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Array.from({ length: n }, () => scale * rng.normal()),
    { shape, backend },
  );
};

/** Max |a - b| over two equal-length arrays (throws on a length mismatch). */
export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
};

/** Dispatches recorded so far by a WebGPU backend's runtime (to tell the fused path from the composed one). */
export const dispatchCount = (backend: Tensor['backend']): number =>
  (backend as unknown as { runtime: { stats(): { dispatches: number } } }).runtime.stats().dispatches;

/** Forward, then backward of sum(y * weights); returns y and the gradients of `inputs`, read back. */
export async function forwardBackward(
  inputs: readonly Tensor[],
  fn: (t: readonly Tensor[]) => Tensor,
  seed = 99,
): Promise<{ y: Float32Array; grads: Float32Array[] }> {
  const { tidy, mul, sum } = await import('@dynconv/tensor');
  for (const t of inputs) if (t.dtype !== 'i32') t.requireGrad();
  const y = tidy(() => {
    const out = fn(inputs);
    const w = randomTensor(out.shape, seed, out.backend);
    sum(mul(out, w)).backward();
    return out;
  });
  const result = {
    y: (await y.data()) as Float32Array,
    grads: await Promise.all(
      inputs.filter((t) => t.grad).map(async (t) => (await t.grad!.data()) as Float32Array),
    ),
  };
  y.dispose();
  for (const t of inputs) t.zeroGrad();
  return result;
}
