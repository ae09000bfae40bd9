/**
 * Measuring helpers shared by the GPU benchmarks: row-major views, per-repetition
 * GPU time from timestamp queries (best of 3) beside wall clock, and the result
 * row every benchmark prints and writes.
 */
import type { BackendBuffer, View } from '../src/backend.js';
import type { WebGPUBackend } from '../src/webgpu/backend.js';

export interface Result {
  readonly name: string;
  readonly value: number;
  readonly unit: 'GFLOP/s' | 'GB/s' | 'us';
  readonly ms: number;
  readonly timing: 'gpu-timestamps' | 'wall-clock';
  readonly wallMs: number;
}

export const rowMajor = (shape: readonly number[]): number[] => {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
};
export const view = (buffer: BackendBuffer, shape: readonly number[], strides = rowMajor(shape)): View => ({
  buffer,
  dtype: buffer.dtype,
  shape,
  strides,
  offset: 0,
});

/** Per-repetition milliseconds: GPU timestamps (best of 3) when available, and wall clock. */
export async function measure(
  b: WebGPUBackend,
  once: () => void,
  reps: number,
): Promise<{ ms: number; wallMs: number; gpu: boolean }> {
  once();
  await b.sync();
  once();
  await b.sync();
  let gpuMs: number | null = null;
  for (let trial = 0; trial < 3; trial++) {
    const ms = await b.runtime.timeGpu(() => {
      for (let i = 0; i < reps; i++) once();
    });
    if (ms !== null) gpuMs = Math.min(gpuMs ?? Number.POSITIVE_INFINITY, ms / reps);
  }
  await b.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) once();
  await b.sync();
  const wallMs = (performance.now() - t0) / reps;
  return { ms: gpuMs ?? wallMs, wallMs, gpu: gpuMs !== null };
}

export const record = (
  results: Result[],
  name: string,
  m: { ms: number; wallMs: number; gpu: boolean },
  value: number,
  unit: Result['unit'],
): void => {
  const r: Result = {
    name,
    value,
    unit,
    ms: m.ms,
    timing: m.gpu ? 'gpu-timestamps' : 'wall-clock',
    wallMs: m.wallMs,
  };
  results.push(r);
  console.log(
    `${name.padEnd(44)} ${value.toFixed(unit === 'us' ? 2 : 1).padStart(10)} ${unit.padEnd(8)} ${m.ms.toFixed(3).padStart(9)} ms  (wall ${m.wallMs.toFixed(3)} ms)`,
  );
};

/**
 * Max relative error of 64 sampled entries of `hc` = A @ B against a float64
 * sum: `dims` [m, n, k]; A `[m, k]` and B `[k, n]` read from the host copies
 * `ha`, `hb` through the given (row, column) strides; C row-major. `round`
 * (e.g. to f16) applies to each operand first; `floor` bounds the divisor
 * from below (signed data sums near zero).
 */
export function sampledError(
  ha: ArrayLike<number>,
  hb: ArrayLike<number>,
  hc: ArrayLike<number>,
  [m, n, k]: readonly [number, number, number],
  aStrides: readonly number[],
  bStrides: readonly number[],
  { round = (v: number) => v, floor = 1e-6 }: { round?: (v: number) => number; floor?: number } = {},
): number {
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const i = (s * 7919) % m;
    const j = (s * 104729) % n;
    let acc = 0;
    for (let q = 0; q < k; q++)
      acc +=
        round(ha[i * aStrides[0]! + q * aStrides[1]!]!) * round(hb[q * bStrides[0]! + j * bStrides[1]!]!);
    worst = Math.max(worst, Math.abs(hc[i * n + j]! - acc) / Math.max(floor, Math.abs(acc)));
  }
  return worst;
}
