import { CpuBackend, noGrad, type Tensor, tensor } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { type ModelV1, transformer } from '../src/index.js';
import { lmLoss, randomIds, randomizeParameters, tinyConfig } from './helpers.js';

const f64 = new CpuBackend({ precision: 'f64', poison: true });

const writeValues = (p: Tensor, values: ArrayLike<number>): void => {
  const src = tensor(values, { shape: p.shape, backend: p.backend });
  p.backend.copy(src.view(), p.view());
  src.dispose();
};

/** Central finite differences of the loss w.r.t. a few entries of `name`, against backward's gradient. */
async function checkParameter(
  model: ModelV1,
  ids: Tensor,
  name: string,
  grads: Map<string, Float64Array>,
): Promise<number> {
  const p = model.parameters.get(name)!;
  const original = Float64Array.from(await p.data());
  const grad = grads.get(name)!;
  const eps = 1e-6;
  let worst = 0;
  const loss = async () => {
    const l = noGrad(() => lmLoss(model, ids));
    const v = await l.item();
    l.dispose();
    return v;
  };
  for (const i of [0, Math.floor(p.size / 2), p.size - 1]) {
    const probe = Float64Array.from(original);
    probe[i] = original[i]! + eps;
    writeValues(p, probe);
    const up = await loss();
    probe[i] = original[i]! - eps;
    writeValues(p, probe);
    const down = await loss();
    writeValues(p, original);
    const numeric = (up - down) / (2 * eps);
    const err = Math.abs(numeric - grad[i]!);
    expect(err, `${name}[${i}]: backward ${grad[i]}, finite difference ${numeric}`).toBeLessThan(
      1e-6 + 1e-5 * Math.abs(numeric),
    );
    worst = Math.max(worst, err);
  }
  return worst;
}

describe('transformer gradients (float64 CPU, finite differences)', () => {
  it('match for every kind of parameter of a model using all the options', async () => {
    const config = tinyConfig({
      dModel: 8,
      nHeads: 2,
      nKvHeads: 1,
      mlpHidden: 12,
      vocabSize: 11,
      qkNorm: true,
      conv: 'dynamic-all-linear',
      dsc: { rank: 2, width: 3 },
      preProjection: 'on+skip',
      tieEmbeddings: false,
    });
    const model = transformer.build(config, { backend: f64, seed: 1 });
    randomizeParameters(model, 2, 0.4);
    const ids = randomIds(2, 6, 11, 3, f64);
    const l = lmLoss(model, ids);
    l.backward();
    l.dispose();
    const grads = new Map<string, Float64Array>();
    for (const [name, p] of model.parameters) grads.set(name, Float64Array.from(await p.grad!.data()));
    const names = [
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_norm.weight',
      'model.layers.0.self_attn.q_conv.proj.weight',
      'model.layers.0.self_attn.k_conv.U',
      'model.layers.0.self_attn.v_conv.static_w',
      'model.layers.0.self_attn.o_conv.U',
      'model.layers.0.self_attn.pre_proj.up_proj.weight',
      'model.layers.0.self_attn.skip_proj.weight',
      'model.layers.1.mlp.gate_conv.proj.weight',
      'model.layers.1.mlp.down_conv.U',
      'model.layers.1.mlp.up_proj.weight',
      'model.norm.weight',
      'lm_head.weight',
    ];
    for (const name of names) await checkParameter(model, ids, name, grads);
    // Every parameter received a gradient (nothing is cut off from the loss).
    for (const [name, g] of grads)
      expect(
        g.some((v) => v !== 0),
        name,
      ).toBe(true);
    model.dispose();
    ids.dispose();
  });
});
