import type {
  BackendBuffer,
  CrossEntropyArgs,
  CrossEntropyBackwardArgs,
  NormArgs,
  NormBackwardArgs,
} from '../backend.js';
import { cpuData, finishF16 } from './buffer.js';

export function softmax(x: BackendBuffer, rows: number, n: number, out: BackendBuffer, log: boolean): void {
  const src = cpuData(x);
  const dst = cpuData(out);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, src[o + j]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(src[o + j]! - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < n; j++) dst[o + j] = log ? src[o + j]! - lse : Math.exp(src[o + j]! - lse);
  }
  finishF16(out, rows * n);
}

export function softmaxBackward(
  y: BackendBuffer,
  dy: BackendBuffer,
  rows: number,
  n: number,
  dx: BackendBuffer,
  log: boolean,
): void {
  const Y = cpuData(y);
  const G = cpuData(dy);
  const D = cpuData(dx);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let s = 0;
    // softmax: dx = y * (g - sum(g*y)); log-softmax: dx = g - exp(y) * sum(g)
    for (let j = 0; j < n; j++) s += log ? G[o + j]! : G[o + j]! * Y[o + j]!;
    for (let j = 0; j < n; j++)
      D[o + j] = log ? G[o + j]! - Math.exp(Y[o + j]!) * s : Y[o + j]! * (G[o + j]! - s);
  }
  finishF16(dx, rows * n);
}

export function crossEntropy(args: CrossEntropyArgs): void {
  const { logits, targets, rows, n, ignoreIndex, losses, lse } = args;
  const X = cpuData(logits);
  const T = cpuData(targets);
  const L = cpuData(losses);
  const S = cpuData(lse);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, X[o + j]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(X[o + j]! - m);
    const l = m + Math.log(s);
    S[r] = l;
    const t = T[r]!;
    L[r] = t === ignoreIndex || t < 0 || t >= n ? 0 : l - X[o + t]!;
  }
}

export function crossEntropyBackward(args: CrossEntropyBackwardArgs): void {
  const { logits, targets, lse, g, rows, n, ignoreIndex, dlogits } = args;
  const X = cpuData(logits);
  const T = cpuData(targets);
  const S = cpuData(lse);
  const G = cpuData(g);
  const D = cpuData(dlogits);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const t = T[r]!;
    const ignored = t === ignoreIndex || t < 0 || t >= n;
    for (let j = 0; j < n; j++)
      D[o + j] = ignored ? 0 : G[r]! * (Math.exp(X[o + j]! - S[r]!) - (j === t ? 1 : 0));
  }
  finishF16(dlogits, rows * n);
}

export function norm(args: NormArgs): void {
  const { kind, x, weight, bias, rows, n, eps, out, mean, rstd, residual, sum } = args;
  let X = cpuData(x);
  if (residual && sum) {
    // Fused residual add: normalise the (dtype-rounded) sum, as the backward reads it back.
    const Res = cpuData(residual);
    const S = cpuData(sum);
    for (let i = 0; i < rows * n; i++) S[i] = X[i]! + Res[i]!;
    finishF16(sum, rows * n);
    X = S;
  }
  const W = weight && cpuData(weight);
  const B = bias && cpuData(bias);
  const Y = cpuData(out);
  const M = mean && cpuData(mean);
  const R = cpuData(rstd);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mu = 0;
    if (kind === 'layer') {
      for (let j = 0; j < n; j++) mu += X[o + j]!;
      mu /= n;
    }
    let v = 0;
    for (let j = 0; j < n; j++) v += (X[o + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / n + eps);
    if (M) M[r] = mu;
    R[r] = rs;
    for (let j = 0; j < n; j++) Y[o + j] = (X[o + j]! - mu) * rs * (W ? W[j]! : 1) + (B ? B[j]! : 0);
  }
  finishF16(out, rows * n);
}

/**
 * dx for y = xhat * w (+ b), xhat = (x - mu) * rstd:
 * rms:   dx = rstd * (gw - xhat * mean(gw * xhat))
 * layer: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = dy * w
 */
export function normBackward(args: NormBackwardArgs): void {
  const { kind, x, weight, mean, rstd, dy, rows, n, dx, dresidual, dweight, dbias } = args;
  const X = cpuData(x);
  const W = weight && cpuData(weight);
  const M = mean && cpuData(mean);
  const R = cpuData(rstd);
  const G = cpuData(dy);
  const D = cpuData(dx);
  const DR = dresidual && cpuData(dresidual);
  const dW = dweight ? new Float64Array(n) : null;
  const dB = dbias ? new Float64Array(n) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const mu = kind === 'layer' && M ? M[r]! : 0;
    const rs = R[r]!;
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < n; j++) {
      const gw = G[o + j]! * (W ? W[j]! : 1);
      sumG += gw;
      sumGX += gw * (X[o + j]! - mu) * rs;
    }
    const meanG = kind === 'layer' ? sumG / n : 0;
    const meanGX = sumGX / n;
    for (let j = 0; j < n; j++) {
      const gw = G[o + j]! * (W ? W[j]! : 1);
      const xhat = (X[o + j]! - mu) * rs;
      D[o + j] = rs * (gw - meanG - xhat * meanGX) + (DR ? DR[o + j]! : 0);
      if (dW) dW[j] = dW[j]! + G[o + j]! * xhat;
      if (dB) dB[j] = dB[j]! + G[o + j]!;
    }
  }
  finishF16(dx, rows * n);
  for (const [buf, acc] of [
    [dweight, dW],
    [dbias, dB],
  ] as const)
    if (buf && acc) {
      cpuData(buf).set(acc);
      finishF16(buf, n);
    }
}
