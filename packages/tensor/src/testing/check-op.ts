import { noGrad } from '../autograd.js';
import type { Backend } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import type { DType } from '../dtype.js';
import { tensor } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { tidy } from '../scope.js';
import { numel } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** How `checkOp` makes one input. */
export interface InputSpec {
  shape: readonly number[];
  dtype?: DType;
  /** Differentiate with respect to this input (default: true for floats). */
  grad?: boolean;
  /** Value generator: normal (default), positive (0.5..2), or integers in [low, high). */
  init?: 'normal' | 'positive' | { int: readonly [number, number] } | ((i: number) => number);
}

export interface CheckOpOptions {
  /** Backend under test (e.g. WebGPU); compared against the float64 CPU reference. Omit to check the reference only. */
  backend?: Backend | null;
  /** Tolerances of backend vs reference (forward and gradients). */
  atol?: number;
  rtol?: number;
  /** Finite differences on the reference: step and tolerances; `false` skips them. */
  fd?: { eps?: number; atol?: number; rtol?: number; maxPoints?: number } | false;
  seed?: number;
}

export interface CheckOpReport {
  forwardMaxErr: number;
  gradMaxErr: number;
  fdMaxErr: number;
}

/** A small deterministic PRNG for test data (mulberry32). */
export const testRng = (seed: number) => {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
};

const makeValues = (spec: InputSpec, rng: ReturnType<typeof testRng>): number[] => {
  const n = numel(spec.shape);
  const init = spec.init ?? 'normal';
  return Array.from({ length: n }, (_, i) => {
    if (typeof init === 'function') return init(i);
    if (init === 'normal') return rng.normal();
    if (init === 'positive') return 0.5 + 1.5 * rng.next();
    return init.int[0] + Math.floor(rng.next() * (init.int[1] - init.int[0]));
  });
};

const isDiff = (s: InputSpec) => (s.grad ?? (s.dtype ?? 'f32') !== 'i32') && (s.dtype ?? 'f32') !== 'u32';

const closeness = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
): number => {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const err = Math.abs(x - y);
    if (!(err <= atol + rtol * Math.abs(y)))
      throw new Error(
        `${what}: element ${i}: got ${x}, reference ${y} (|diff| ${err} > ${atol} + ${rtol}*|ref|)`,
      );
    worst = Math.max(worst, err);
  }
  return worst;
};

interface RunResult {
  out: Float64Array;
  grads: (Float64Array | null)[];
}

/** Forward, then backward of sum(out * weights), reading everything back. */
async function run(
  backend: Backend,
  specs: readonly InputSpec[],
  values: readonly number[][],
  weights: readonly number[],
  fn: (inputs: Tensor[]) => Tensor,
  withGrad: boolean,
): Promise<RunResult> {
  const before = backend.liveBuffers();
  const inputs = specs.map((s, i) => {
    const t = tensor(values[i]!, { shape: s.shape, dtype: s.dtype ?? 'f32', backend });
    if (withGrad && isDiff(s)) t.requireGrad();
    return t;
  });
  const out = tidy(() => {
    const y = fn(inputs);
    if (withGrad) {
      const w = tensor(weights, { shape: y.shape, dtype: y.dtype, backend });
      const loss = sum(mul(y, w));
      if (loss.requiresGrad) loss.backward();
    }
    return y;
  });
  const result: RunResult = {
    out: Float64Array.from(await out.data()),
    grads: await Promise.all(
      inputs.map(async (t) => (t.grad ? Float64Array.from(await t.grad.data()) : null)),
    ),
  };
  out.dispose();
  for (const t of inputs) t.dispose();
  await backend.sync();
  const after = backend.liveBuffers();
  if (after !== before) throw new Error(`${backend.name}: ${after - before} buffer(s) leaked by the op`);
  return result;
}

/**
 * Checks a differentiable op three ways: (a) `backend` forward vs the float64
 * CPU reference, (b) `backend` gradients vs reference gradients, (c) reference
 * gradients vs central finite differences in float64. Also asserts that no
 * buffer leaks on either backend. Throws with the first mismatch.
 */
export async function checkOp(
  name: string,
  specs: readonly InputSpec[],
  fn: (inputs: Tensor[]) => Tensor,
  options: CheckOpOptions = {},
): Promise<CheckOpReport> {
  const rng = testRng(options.seed ?? 1234);
  const values = specs.map((s) => makeValues(s, rng));
  const ref = new CpuBackend({ precision: 'f64', poison: true });
  const probe = await run(ref, specs, values, [], fn, false);
  const weights = Array.from(probe.out, () => rng.normal());
  const expected = await run(ref, specs, values, weights, fn, true);
  const report: CheckOpReport = { forwardMaxErr: 0, gradMaxErr: 0, fdMaxErr: 0 };

  if (options.fd !== false) {
    const { eps = 1e-6, atol = 1e-6, rtol = 1e-5, maxPoints = 48 } = options.fd ?? {};
    const loss = (vals: number[][]) =>
      noGrad(() => {
        const inputs = specs.map((s, i) =>
          tensor(vals[i]!, { shape: s.shape, dtype: s.dtype ?? 'f32', backend: ref }),
        );
        const y = fn(inputs);
        const data = ref.readSync(y.view());
        let l = 0;
        for (let i = 0; i < data.length; i++) l += data[i]! * weights[i]!;
        y.dispose();
        for (const t of inputs) t.dispose();
        return l;
      });
    specs.forEach((s, i) => {
      if (!isDiff(s)) return;
      const g = expected.grads[i]!;
      const n = values[i]!.length;
      const stride = Math.max(1, Math.floor(n / maxPoints));
      for (let j = 0; j < n; j += stride) {
        const plus = values.map((v) => [...v]);
        const minus = values.map((v) => [...v]);
        plus[i]![j]! += eps;
        minus[i]![j]! -= eps;
        const numeric = (loss(plus) - loss(minus)) / (2 * eps);
        report.fdMaxErr = Math.max(
          report.fdMaxErr,
          closeness(
            [g[j]!],
            [numeric],
            atol,
            rtol,
            `${name}: reference grad of input ${i} vs finite difference at ${j}`,
          ),
        );
      }
    });
  }

  if (options.backend) {
    const { atol = 1e-4, rtol = 1e-4 } = options;
    const got = await run(options.backend, specs, values, weights, fn, true);
    report.forwardMaxErr = closeness(
      got.out,
      expected.out,
      atol,
      rtol,
      `${name}: ${options.backend.name} forward`,
    );
    specs.forEach((s, i) => {
      if (!isDiff(s)) return;
      report.gradMaxErr = Math.max(
        report.gradMaxErr,
        closeness(
          got.grads[i]!,
          expected.grads[i]!,
          atol,
          rtol,
          `${name}: ${options.backend!.name} grad of input ${i}`,
        ),
      );
    });
  }
  return report;
}
