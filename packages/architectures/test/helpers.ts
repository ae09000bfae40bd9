import {
  type Backend,
  CpuBackend,
  crossEntropy,
  narrow,
  noGrad,
  type Tensor,
  tensor,
  tidy,
} from '@dynconv/tensor';
import { testRng } from '@dynconv/tensor/testing';
import {
  decodeConfig,
  loadParameters,
  type ModelV1,
  type TransformerConfig,
  transformer,
} from '../src/index.js';

export const cpu = new CpuBackend({ precision: 'f32', poison: true });

/** A tiny transformer config (decoded, defaults filled) with `overrides`. */
export const tinyConfig = (overrides: Record<string, unknown> = {}): TransformerConfig =>
  decodeConfig(transformer.configSchema, {
    vocabSize: 19,
    dModel: 16,
    nLayers: 2,
    nHeads: 4,
    mlpHidden: 24,
    ...overrides,
  });

/**
 * Overwrites every parameter with N(0, scale²) values (norm weights around 1).
 * The official DSC init zeroes the dynamic parts, which would let a broken
 * dynamic path pass equivalence tests.
 */
export function randomizeParameters(model: ModelV1, seed: number, scale = 0.3): void {
  const rng = testRng(seed);
  const entries = new Map(
    [...model.parameters].map(([name, t]) => {
      const isNorm = /norm\.weight$/.test(name);
      const data = Array.from({ length: t.size }, () => (isNorm ? 1 : 0) + scale * rng.normal());
      return [name, { dtype: 'F32' as const, shape: t.shape, data }];
    }),
  );
  loadParameters(model.parameters, entries);
}

/** Random token ids `[batch, length]` in [0, vocab). */
export const randomIds = (
  batch: number,
  length: number,
  vocab: number,
  seed: number,
  backend: Backend = cpu,
): Tensor => {
  const rng = testRng(seed);
  return tensor(
    Int32Array.from({ length: batch * length }, () => Math.floor(rng.next() * vocab)),
    { shape: [batch, length], backend },
  );
};

/** Next-token loss of `ids [B, T]`: predict ids[:, 1:] from ids[:, :-1]. */
export const lmLoss = (model: ModelV1, ids: Tensor): Tensor =>
  tidy(() => {
    const t = ids.shape[1]!;
    const logits = model.forward({ ids: narrow(ids, 1, 0, t - 1).contiguous() });
    return crossEntropy(logits, narrow(ids, 1, 1, t - 1).contiguous());
  });

/** One plain SGD step in place: forward, backward, `p ← p − lr·∇p`, gradients cleared. Returns the loss. */
export async function sgdStep(model: ModelV1, ids: Tensor, lr: number): Promise<number> {
  const loss = tidy(() => {
    const l = lmLoss(model, ids);
    l.backward();
    return l.detach();
  });
  noGrad(() =>
    tidy(() => {
      for (const p of model.parameters.values()) {
        if (!p.grad) continue;
        const updated = p.sub(p.grad.mul(lr));
        p.backend.copy(updated.view(), p.view());
      }
    }),
  );
  for (const p of model.parameters.values()) p.zeroGrad();
  const value = await loss.item();
  loss.dispose();
  return value;
}
