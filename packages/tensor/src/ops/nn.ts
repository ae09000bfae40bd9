import { record } from '../autograd.js';
import { fmtShape, TensorError } from '../errors.js';
import { normAxis, numel, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { type Generator, rand } from './creation.js';
import { cast, div, ge, maximum, mul, ne, sub } from './elementwise.js';
import { indexSelect } from './indexing.js';
import { sum } from './reduce.js';
import { assertDType, assertFloat, backendOf, empty } from './util.js';
import { contiguous, permute, reshape } from './views.js';

/** Runs `fn` on `x` with `axis` moved last (contiguous), then moves it back. */
const alongLastAxis = (x: Tensor, axis: number, fn: (xc: Tensor) => Tensor): Tensor => {
  const a = normAxis('softmax', axis, x.rank);
  if (a === x.rank - 1 || x.rank === 0) {
    const c = contiguous(x);
    const y = fn(c);
    c.dispose();
    return y;
  }
  const order = [...x.shape.keys()].filter((i) => i !== a);
  order.push(a);
  const inverse = new Array<number>(order.length);
  order.forEach((o, i) => {
    inverse[o] = i;
  });
  const p = permute(x, order);
  const c = contiguous(p);
  const y = fn(c);
  const out = permute(y, inverse);
  for (const t of [p, c, y]) t.dispose();
  return out;
};

const softmaxLast = (x: Tensor, log: boolean): Tensor => {
  const backend = backendOf('softmax', x);
  assertFloat(log ? 'logSoftmax' : 'softmax', x);
  const n = x.shape[x.rank - 1] ?? 1;
  const rows = n === 0 ? 0 : x.size / n;
  const y = empty(backend, x.shape, x.dtype);
  backend.softmax(x.storage.buffer, rows, n, y.storage.buffer, log);
  record(log ? 'logSoftmax' : 'softmax', [x], [y], [y], ([g], [sy]) => {
    const gc = contiguous(g!);
    const dx = empty(backend, x.shape, x.dtype);
    backend.softmaxBackward(sy!.storage.buffer, gc.storage.buffer, rows, n, dx.storage.buffer, log);
    return [dx];
  });
  return y;
};

/** Softmax along `axis` (fused kernel per row). */
export const softmax = (x: Tensor, axis = -1): Tensor => alongLastAxis(x, axis, (c) => softmaxLast(c, false));
/** Log-softmax along `axis` (fused kernel per row). */
export const logSoftmax = (x: Tensor, axis = -1): Tensor =>
  alongLastAxis(x, axis, (c) => softmaxLast(c, true));

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient. Default -100. */
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (per target). */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Fused cross-entropy of `logits [..., V]` against i32 class `targets [...]`,
 * never materialising the softmax in the forward pass.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const backend = backendOf('crossEntropy', logits, targets);
  assertFloat('crossEntropy', logits);
  assertDType('crossEntropy', 'targets', targets, 'i32');
  const n = logits.shape[logits.rank - 1] ?? 0;
  if (logits.rank < 1 || !sameShape(logits.shape.slice(0, -1), targets.shape))
    throw new TensorError(
      'crossEntropy',
      `logits ${fmtShape(logits.shape)} need targets of shape ${fmtShape(logits.shape.slice(0, -1))}, got ${fmtShape(targets.shape)}`,
    );
  const rows = numel(targets.shape);
  const flat = reshape(logits, [rows, n]);
  const lc = contiguous(flat);
  flat.dispose();
  const tc = contiguous(targets);
  const losses = empty(backend, [rows], 'f32');
  const lse = empty(backend, [rows], 'f32');
  backend.crossEntropy({
    logits: lc.storage.buffer,
    targets: tc.storage.buffer,
    rows,
    n,
    ignoreIndex,
    losses: losses.storage.buffer,
    lse: lse.storage.buffer,
  });
  record('crossEntropy', [lc], [losses], [lc, tc, lse], ([g], [sl, st, slse]) => {
    const gc = contiguous(g!);
    const d = empty(backend, [rows, n], lc.dtype);
    backend.crossEntropyBackward({
      logits: sl!.storage.buffer,
      targets: st!.storage.buffer,
      lse: slse!.storage.buffer,
      g: gc.storage.buffer,
      rows,
      n,
      ignoreIndex,
      dlogits: d.storage.buffer,
    });
    return [d];
  });
  lse.dispose();
  tc.dispose();
  lc.dispose();
  const reduction = options.reduction ?? 'mean';
  if (reduction === 'none') {
    const r = reshape(losses, targets.shape);
    losses.dispose();
    return r;
  }
  const total = sum(losses);
  losses.dispose();
  if (reduction === 'sum') return total;
  const valid = ne(targets, ignoreIndex);
  const validF = cast(valid, 'f32');
  const count = sum(validF);
  const denom = maximum(count, 1);
  const out = div(total, denom);
  for (const t of [valid, validF, count, denom, total]) t.dispose();
  return out;
}

const normImpl = (
  kind: 'rms' | 'layer',
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor => {
  const op = kind === 'rms' ? 'rmsNorm' : 'layerNorm';
  const backend = backendOf(op, x, ...(weight ? [weight] : []), ...(bias ? [bias] : []));
  assertFloat(op, x);
  const n = x.shape[x.rank - 1] ?? 0;
  for (const [name, p] of [
    ['weight', weight],
    ['bias', bias],
  ] as const)
    if (p && (p.rank !== 1 || p.shape[0] !== n))
      throw new TensorError(op, `${name} ${fmtShape(p.shape)} must be [${n}] for input ${fmtShape(x.shape)}`);
  const rows = n === 0 ? 0 : x.size / n;
  const xc = contiguous(x.detach());
  const wc = weight && contiguous(weight.detach());
  const bc = bias && contiguous(bias.detach());
  const y = empty(backend, x.shape, x.dtype);
  const mean = kind === 'layer' ? empty(backend, [rows], 'f32') : null;
  const rstd = empty(backend, [rows], 'f32');
  backend.norm({
    kind,
    x: xc.storage.buffer,
    weight: wc?.storage.buffer ?? null,
    bias: bc?.storage.buffer ?? null,
    rows,
    n,
    eps,
    out: y.storage.buffer,
    mean: mean?.storage.buffer ?? null,
    rstd: rstd.storage.buffer,
  });
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const saved = [xc, rstd, ...(mean ? [mean] : []), ...(wc ? [wc] : [])];
  record(op, inputs, [y], saved, ([g], s) => {
    const [sx, srstd] = [s[0]!, s[1]!];
    const smean = mean ? s[2]! : null;
    const sw = wc ? s[mean ? 3 : 2]! : null;
    const gc = contiguous(g!);
    const dx = empty(backend, x.shape, x.dtype);
    backend.normBackward({
      kind,
      x: sx.storage.buffer,
      weight: sw?.storage.buffer ?? null,
      mean: smean?.storage.buffer ?? null,
      rstd: srstd.storage.buffer,
      dy: gc.storage.buffer,
      rows,
      n,
      dx: dx.storage.buffer,
    });
    const grads: (Tensor | null)[] = [dx];
    if (weight) {
      const x2 = reshape(sx, [rows, n]);
      const centered = smean ? sub(x2, reshape(smean, [rows, 1])) : x2;
      const xhat = mul(centered, reshape(srstd, [rows, 1]));
      grads.push(weight.requiresGrad ? sum(mul(reshape(gc, [rows, n]), xhat), 0) : null);
    }
    if (bias) grads.push(bias.requiresGrad ? sum(reshape(gc, [rows, n]), 0) : null);
    return grads;
  });
  for (const t of [xc, wc, bc, mean, rstd]) t?.dispose();
  return y;
};

/** RMSNorm over the last axis: `x / sqrt(mean(x^2) + eps) * weight`. Fused forward and backward. */
export const rmsNorm = (x: Tensor, weight: Tensor | null = null, eps = 1e-6): Tensor =>
  normImpl('rms', x, weight, null, eps);

/** LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`. Fused forward and backward. */
export const layerNorm = (
  x: Tensor,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor => normImpl('layer', x, weight, bias, eps);

export interface DropoutOptions {
  training?: boolean;
  generator?: Generator;
}

/** Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new TensorError('dropout', `p must be in [0, 1), got ${p}`);
  if (options.training === false || p === 0) return x.share();
  const u = rand(x.shape, {
    backend: x.backend,
    ...(options.generator ? { generator: options.generator } : {}),
  });
  const keepMask = ge(u, p);
  const m = keepMask.dtype === x.dtype ? keepMask : cast(keepMask, x.dtype);
  const scaled = mul(m, 1 / (1 - p));
  const y = mul(x, scaled);
  for (const t of new Set([u, keepMask, m, scaled])) t.dispose();
  return y;
}

/** Rows of `weight [V, D]` picked by i32 `ids [...]`: `[..., D]`. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (weight.rank !== 2)
    throw new TensorError('embedding', `weight must be [V, D], got ${fmtShape(weight.shape)}`);
  const flat = reshape(ids, [ids.size]);
  const rows = indexSelect(weight, 0, flat);
  const out = reshape(rows, [...ids.shape, weight.shape[1]!]);
  flat.dispose();
  rows.dispose();
  return out;
}
