import {
  type Backend,
  concat,
  empty,
  matmul,
  narrow,
  record,
  reshape,
  type Tensor,
  tidy,
  usesReducedPrecision,
  zeros,
} from '@dynconv/tensor';
import { concatRows, splitRows } from './fused/copy-runs.js';
import { layerFusion } from './fused/gpu.js';
import { constantParameter, type InitOptions, normalParameter, uniformParameter } from './init.js';

/** A dense layer `y = x Wᵀ + b`, PyTorch layout: `weight [out, in]`, `bias [out]`. */
export type Linear = { weight: Tensor; bias?: Tensor };

export interface LinearOptions extends InitOptions {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Add a bias (zero-initialised). Default false. */
  readonly bias?: boolean;
  /**
   * Weight init: a standard deviation for N(0, std²), `'zeros'`, or
   * `'kaiming-uniform'` (PyTorch's `nn.Linear` default, U(±1/√in)). Default 0.02.
   */
  readonly init?: number | 'zeros' | 'kaiming-uniform';
}

/** A fresh `Linear` (parameters require gradients; free with `disposeParameters`). */
export function initLinear(o: LinearOptions): Linear {
  const shape = [o.outFeatures, o.inFeatures];
  const init = o.init ?? 0.02;
  const weight =
    init === 'zeros'
      ? constantParameter(shape, o)
      : init === 'kaiming-uniform'
        ? uniformParameter(shape, 1 / Math.sqrt(o.inFeatures), o)
        : normalParameter(shape, init, o);
  return o.bias ? { weight, bias: constantParameter([o.outFeatures], o) } : { weight };
}

/** Input and output widths of a linear layer. */
export const linearShape = (p: Linear): { inFeatures: number; outFeatures: number } => ({
  inFeatures: p.weight.shape[1]!,
  outFeatures: p.weight.shape[0]!,
});

/**
 * `x [..., in] → [..., out]`. The leading dims are flattened into one matmul
 * so the weight gradient is a single `[out, in]` product.
 */
export function linear(p: Linear, x: Tensor): Tensor {
  return tidy(() => {
    const { inFeatures, outFeatures } = linearShape(p);
    const lead = x.shape.slice(0, -1);
    const x2 = reshape(x, [-1, inFeatures]);
    let y = layerFusion.enabled ? matmulWeightT(x2, p.weight) : matmul(x2, p.weight.T);
    if (p.bias) y = y.add(p.bias);
    return reshape(y, [...lead, outFeatures]);
  });
}

/**
 * Several linear layers over the same input as ONE matmul: the weights are
 * concatenated along the output dim, multiplied once, and the result split.
 * `x [..., in] → [[..., out_0], [..., out_1], ...]`. Used to fuse the q/k/v
 * projections with the dynamic-convolution generators that read the same input.
 */
export function fusedLinear(layers: readonly Linear[], x: Tensor): Tensor[] {
  if (layers.length === 1) return [linear(layers[0]!, x)];
  return tidy(() =>
    splitLastAxis(
      fusedLinearPacked(layers, x),
      layers.map((l) => linearShape(l).outFeatures),
    ),
  );
}

/**
 * {@link fusedLinear} without the split: `x [..., in] → [..., Σ out_i]`, the
 * layers' outputs side by side, for a consumer that reads them packed (e.g.
 * `splitHeadsRoPE`, `swigluPacked`) and so hands back one packed gradient.
 * `padTo` > 1 appends zero weight rows (and zero bias) up to a multiple of
 * it: the output gets that many extra columns, always zero, whose gradient
 * the consumer must leave zero (see `packedWidthMultiple` in attention.ts).
 */
export function fusedLinearPacked(layers: readonly Linear[], x: Tensor, padTo = 1): Tensor {
  const widths = layers.map((l) => linearShape(l).outFeatures);
  const total = widths.reduce((a, b) => a + b, 0);
  const pad = Math.ceil(total / padTo) * padTo - total;
  if (layers.length === 1 && pad === 0) return linear(layers[0]!, x);
  return tidy(() => {
    const { weight: w0 } = layers[0]!;
    const place = { backend: w0.backend, dtype: w0.dtype };
    const padRows = pad > 0 ? [zeros([pad, w0.shape[1]!], place)] : [];
    const weight = concatOwned([...layers.map((l) => l.weight), ...padRows]);
    const anyBias = layers.some((l) => l.bias);
    const bias = anyBias
      ? concatOwned([
          ...layers.map((l, i) => l.bias ?? zeros([widths[i]!], place)),
          ...(pad > 0 ? [zeros([pad], place)] : []),
        ])
      : undefined;
    return linear(bias ? { weight, bias } : { weight }, x);
  });
}

/**
 * `x Wᵀ` (x `[N, in]`, W `[out, in]`) whose weight gradient is computed as
 * `gᵀ x`: a contiguous `[out, in]` tensor. Why: matmul's own rule gives
 * `(xᵀ g)ᵀ`, a transposed view, which the fused WebGPU AdamW cannot take whole
 * (it updates such a parameter with ~14 composed dispatches instead of one).
 */
function matmulWeightT(x: Tensor, w: Tensor): Tensor {
  const xd = x.detach();
  const wd = w.detach();
  // With reduced precision, the forward multiplies by a contiguous Wᵀ (see forwardWeightCopy).
  const wt = forwardWeightCopy(w.backend) ? wd.T.contiguous() : null;
  const y = matmul(xd, wt ?? wd.T);
  wt?.dispose();
  const [needX, needW] = [x.requiresGrad, w.requiresGrad];
  record('linear', [x, w], [y], [xd, wd], ([g], [sx, sw]) => [
    needX ? matmul(g!, sw!) : null,
    needW ? matmul(g!.T, sx!) : null,
  ]);
  xd.dispose();
  wd.dispose();
  return y;
}

/**
 * Whether the forward of a linear layer multiplies by a contiguous copy of
 * Wᵀ instead of the transposed view: with reduced-precision (subgroup-matrix)
 * matmuls, where x·Wᵀ ran at 96 TFLOP/s against 142 for A·B (H100, 4096³,
 * f32 operands rounded on load). `DYNCONV_LINEAR_WT_COPY=0|1` forces it.
 */
const forwardWeightCopy = (backend: Backend): boolean => {
  const forced = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.DYNCONV_LINEAR_WT_COPY;
  if (forced === '0' || forced === '1') return forced === '1';
  return usesReducedPrecision(backend);
};

/**
 * `concat(ts, 0)` whose backward hands each input a gradient in its own buffer.
 * Why: `concat`'s backward returns views into the one fused gradient, and the
 * fused WebGPU AdamW only takes whole buffers: parameter views fall back to the
 * composed update (~14 dispatches and as many temporaries per parameter).
 */
function concatOwned(ts: readonly Tensor[]): Tensor {
  const detached = ts.map((t) => t.detach());
  // WebGPU: one dispatch for all pieces (see fused/copy-runs.ts), both ways.
  const out = concatRows(detached) ?? concat(detached, 0);
  record('concatOwned', ts, [out], [], ([g]) => {
    const pieces = splitRows(
      g!,
      ts.map((t) => t.shape[0]!),
    );
    if (pieces)
      return pieces.map((piece, i) => {
        if (ts[i]!.requiresGrad) return piece;
        piece.dispose();
        return null;
      });
    let start = 0;
    return ts.map((t) => {
      const begin = start;
      start += t.shape[0]!;
      // Constant inputs (the zero padding rows) need no gradient: no copy either.
      if (!t.requiresGrad) return null;
      const piece = narrow(g!, 0, begin, t.shape[0]!);
      const own = empty(g!.backend, piece.shape, g!.dtype);
      g!.backend.copy(piece.view(), own.view());
      return own;
    });
  });
  return out;
}

/**
 * `split(y, widths, -1)` as ONE graph node. Why: each `split` piece is its own
 * slice node whose backward zero-fills a full-size `dy` and copies its piece in,
 * and the pieces' `dy`s are then summed (per piece a fill, a copy and an add over
 * all of `y`). Here the backward is one `concat` of the piece gradients: a copy
 * per piece and nothing else.
 */
function splitLastAxis(y: Tensor, widths: readonly number[]): Tensor[] {
  const a = y.rank - 1;
  const place = { backend: y.backend, dtype: y.dtype };
  const shapes = widths.map((w) => [...y.shape.slice(0, -1), w]);
  const base = y.detach();
  let start = 0;
  const pieces = widths.map((w) => {
    const t = narrow(base, a, start, w);
    start += w;
    return t;
  });
  base.dispose();
  record('splitLastAxis', [y], pieces, [], (gs) => [
    concat(
      shapes.map((shape, i) => gs[i] ?? zeros(shape, place)),
      a,
    ),
  ]);
  return pieces;
}
