import { empty, record, type Tensor } from '@dynconv/tensor';

/**
 * RMSNorm / LayerNorm over the last axis through the backend's norm kernels, with the
 * weight and bias gradients written by the backward kernel itself (per-block partials
 * and one deterministic column sum each, instead of ~3 composed dispatches per
 * parameter) and an optional fused residual add: `sum = x + residual` is normalised
 * and returned too, and the backward adds the gradient reaching `sum` to dx in the
 * same kernel (no separate add forward, no gradient accumulation backward).
 * Any backend; x, residual, weight and bias share one backend and float dtype.
 */
export function normFused(
  kind: 'rms' | 'layer',
  x: Tensor,
  residual: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): { sum: Tensor | null; y: Tensor } {
  const n = x.shape[x.rank - 1] ?? 0;
  const backend = x.backend;
  for (const [name, p] of [
    ['weight', weight],
    ['bias', bias],
  ] as const)
    if (p && (p.rank !== 1 || p.shape[0] !== n))
      throw new Error(`normFused: ${name} [${p.shape.join(', ')}] must be [${n}]`);
  if (residual && (residual.shape.join() !== x.shape.join() || residual.dtype !== x.dtype))
    throw new Error(
      `normFused: residual [${residual.shape.join(', ')}] must match x [${x.shape.join(', ')}]`,
    );
  for (const t of [residual, weight, bias])
    if (t && t.backend !== backend) throw new Error('normFused: tensors live on different backends');
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new Error(`normFused: x must be float, got ${x.dtype}`);
  const rows = n === 0 ? 0 : x.size / n;
  const xc = x.detach().contiguous();
  const rc = residual?.detach().contiguous() ?? null;
  const wc = weight?.detach().contiguous() ?? null;
  const bc = bias?.detach().contiguous() ?? null;
  const y = empty(backend, x.shape, x.dtype);
  const sum = residual ? empty(backend, x.shape, x.dtype) : null;
  const mean = kind === 'layer' ? empty(backend, [rows], 'f32') : null;
  const rstd = empty(backend, [rows], 'f32');
  backend.norm({
    kind,
    x: xc.storage.buffer,
    residual: rc?.storage.buffer ?? null,
    sum: sum?.storage.buffer ?? null,
    weight: wc?.storage.buffer ?? null,
    bias: bc?.storage.buffer ?? null,
    rows,
    n,
    eps,
    out: y.storage.buffer,
    mean: mean?.storage.buffer ?? null,
    rstd: rstd.storage.buffer,
  });
  const inputs = [x, ...(residual ? [residual] : []), ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  // The backward reads the normalised input: the sum when there is one.
  const saved = [sum ?? xc, rstd, ...(mean ? [mean] : []), ...(wc ? [wc] : [])];
  record(residual ? 'addNorm' : 'norm', inputs, sum ? [sum, y] : [y], saved, (grads, s) => {
    const gSum = residual ? grads[0]! : null;
    const gy = grads[residual ? 1 : 0] ?? null;
    const [sx, srstd] = [s[0]!, s[1]!];
    const smean = mean ? s[2]! : null;
    const sw = wc ? s[mean ? 3 : 2]! : null;
    let dx: Tensor | null = gSum;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (gy) {
      const gc = gy.contiguous();
      const dres = gSum?.contiguous() ?? null;
      dx = empty(backend, x.shape, x.dtype);
      dw = weight?.requiresGrad ? empty(backend, [n], weight.dtype) : null;
      db = bias?.requiresGrad ? empty(backend, [n], bias.dtype) : null;
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
        dresidual: dres?.storage.buffer ?? null,
        dweight: dw?.storage.buffer ?? null,
        dbias: db?.storage.buffer ?? null,
      });
    }
    // x and residual enter the sum alike: both get the same gradient.
    return [dx, ...(residual ? [dx] : []), ...(weight ? [dw] : []), ...(bias ? [db] : [])];
  });
  for (const t of [xc, rc, wc, bc, mean, rstd]) t?.dispose();
  return { sum, y };
}
