import type { BackendBuffer, GatherArgs, ScatterAddArgs } from '../backend.js';
import { cpuData, finishF16 } from './buffer.js';

export function gather(args: GatherArgs): void {
  const { x, idx, outer, size, inner, count, out } = args;
  const X = cpuData(x);
  const I = cpuData(idx);
  const O = cpuData(out);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < count; i++) {
      const v = I[i]!;
      const dst = (o * count + i) * inner;
      if (v < 0 || v >= size) O.fill(0, dst, dst + inner);
      else {
        const src = (o * size + v) * inner;
        for (let r = 0; r < inner; r++) O[dst + r] = X[src + r]!;
      }
    }
}

export function scatterAdd(args: ScatterAddArgs): void {
  const { src, idx, outer, count, inner, size, out } = args;
  const S = cpuData(src);
  const I = cpuData(idx);
  const O = cpuData(out);
  O.fill(0, 0, outer * size * inner);
  // In index order, as the GPU kernel sums, so both backends round alike.
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < count; i++) {
      const v = I[i]!;
      if (v < 0 || v >= size) continue;
      const s = (o * count + i) * inner;
      const d = (o * size + v) * inner;
      for (let r = 0; r < inner; r++) O[d + r] = O[d + r]! + S[s + r]!;
    }
  finishF16(out, outer * size * inner);
}

export function cumsum(
  x: BackendBuffer,
  outer: number,
  n: number,
  inner: number,
  reverse: boolean,
  out: BackendBuffer,
): void {
  const X = cpuData(x);
  const O = cpuData(out);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < inner; r++) {
      let s = 0;
      for (let t = 0; t < n; t++) {
        const j = reverse ? n - 1 - t : t;
        const at = (o * n + j) * inner + r;
        s += X[at]!;
        O[at] = s;
      }
    }
  finishF16(out, outer * n * inner);
}

export function topk(
  x: BackendBuffer,
  rows: number,
  n: number,
  k: number,
  values: BackendBuffer,
  indices: BackendBuffer,
): void {
  const X = cpuData(x);
  const V = cpuData(values);
  const I = cpuData(indices);
  const order = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) order[j] = j;
    const o = r * n;
    order.sort((a, b) => X[o + b]! - X[o + a]! || a - b);
    for (let j = 0; j < k; j++) {
      V[r * k + j] = X[o + order[j]!]!;
      I[r * k + j] = order[j]!;
    }
  }
}
