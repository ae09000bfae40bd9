import { type Backend, CpuBackend, mul, sum, type Tensor, tensor, tidy } from '@dynconv/tensor';
import { testRng } from '@dynconv/tensor/testing';

/** The float64 CPU backend: the exact side of every comparison. */
export const cpuF64 = new CpuBackend({ precision: 'f64', poison: true });

/** How to draw one input: normal values (scaled), or mapped through `map` (e.g. into a valid domain). */
export interface ValueSpec {
  shape: readonly number[];
  scale?: number;
  map?: (v: number) => number;
}

/** Seeded host values for each spec. */
export function drawValues(specs: readonly ValueSpec[], seed: number): number[][] {
  const rng = testRng(seed);
  return specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, () => {
      const v = (s.scale ?? 1) * rng.normal();
      return s.map ? s.map(v) : v;
    });
  });
}

export interface ForwardBackward {
  outputs: Float64Array[];
  grads: Float64Array[];
}

/**
 * Runs `fn` on leaf inputs built from `values`, backpropagates
 * `Σ_i sum(out_i ⊙ w_i)` with seeded weights (identical for every call with
 * the same output shapes), and reads outputs and input gradients back.
 * Throws when buffers leak.
 */
export async function forwardBackward(
  backend: Backend,
  specs: readonly ValueSpec[],
  values: readonly number[][],
  fn: (inputs: Tensor[]) => Tensor[],
  weightSeed = 99,
): Promise<ForwardBackward> {
  const before = backend.liveBuffers();
  const inputs = specs.map((s, i) => tensor(values[i]!, { shape: s.shape, backend }).requireGrad());
  const outs = tidy(() => {
    const ys = fn(inputs);
    const rng = testRng(weightSeed);
    let loss: Tensor | null = null;
    for (const y of ys) {
      const w = tensor(
        Array.from({ length: y.size }, () => rng.normal()),
        { shape: y.shape, dtype: y.dtype, backend },
      );
      const term = sum(mul(y, w));
      loss = loss ? loss.add(term) : term;
    }
    loss!.backward();
    return ys;
  });
  const result = {
    outputs: await Promise.all(outs.map(async (y) => Float64Array.from(await y.data()))),
    grads: await Promise.all(
      inputs.map(async (t) => (t.grad ? Float64Array.from(await t.grad.data()) : new Float64Array(t.size))),
    ),
  };
  for (const t of [...outs, ...inputs]) t.dispose();
  await backend.sync();
  const leaked = backend.liveBuffers() - before;
  if (leaked !== 0) throw new Error(`${backend.name}: ${leaked} buffer(s) leaked`);
  return result;
}

/** Max |a − b| relative to max(1, max |b|) over each pair of arrays. */
export function maxRelDiff(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  if (a.length !== b.length) throw new Error(`${a.length} vs ${b.length} arrays`);
  let worst = 0;
  a.forEach((x, k) => {
    const y = b[k]!;
    if (x.length !== y.length) throw new Error(`array ${k}: length ${x.length} vs ${y.length}`);
    let scale = 1;
    for (const v of y) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - y[i]!) / scale;
      worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
    }
  });
  return worst;
}

/** `softplus(v)`: a positive step size from a normal draw. */
export const softplus = (v: number): number => Math.log1p(Math.exp(v));
/** `−exp(v)`: a negative decay rate. */
export const negExp = (v: number): number => -Math.exp(v);
/** `logsigmoid(v)`: a log-decay in (−∞, 0). */
export const logSigmoid = (v: number): number => -Math.log1p(Math.exp(-v));
/** `sigmoid(v)`: a gate in (0, 1). */
export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Throws naming the first element where |actual − expected| > tol. */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what = 'values',
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= tol))
      throw new Error(`${what}: element ${i}: ${actual[i]} vs ${expected[i]} (|diff| ${d} > ${tol})`);
  }
}

/**
 * Checks that a sequence op keeps packed documents apart: running it on
 * `[B, T, ...]` inputs with `docStart` must equal running every document of
 * every row alone (from a zero state). `run` receives the per-token inputs
 * (sliced on axes 0 and 1) and optionally the docStart tensor.
 */
export async function expectDocumentsIsolated(
  sequences: readonly Tensor[],
  cuts: readonly (readonly number[])[],
  run: (inputs: Tensor[], docStart?: Tensor) => Tensor,
  tol: number,
): Promise<void> {
  const [B, T] = sequences[0]!.shape as [number, number];
  const backend = sequences[0]!.backend;
  const starts: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) starts.push(Math.max(0, ...cuts[b]!.filter((c) => c <= t)));
  const docStart = tensor(starts, { shape: [B, T], dtype: 'i32', backend });
  const packed = await run([...sequences], docStart).toArray();
  const perToken = packed.length / (B * T);
  for (let b = 0; b < B; b++) {
    const bounds = [0, ...cuts[b]!, T];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [s, e] = [bounds[i]!, bounds[i + 1]!];
      const alone = await run(sequences.map((x) => x.narrow(0, b, 1).narrow(1, s, e - s))).toArray();
      const offset = (b * T + s) * perToken;
      expectAllClose(
        packed.slice(offset, offset + (e - s) * perToken),
        alone,
        tol,
        `row ${b}, document [${s}, ${e})`,
      );
    }
  }
}
