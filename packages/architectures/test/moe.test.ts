import { concat, crossEntropy, narrow, type Tensor, tidy } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { decodeConfig, type MoeModel, moeTransformer, registry, transformer } from '../src/index.js';
import { cpu, randomIds, randomizeParameters } from './helpers.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Number.POSITIVE_INFINITY;
};

const decodeError = (value: unknown): string => {
  try {
    decodeConfig(moeTransformer.configSchema, value);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a decode error');
};

const base = { vocabSize: 17, dModel: 16, nLayers: 2, nHeads: 4, numExperts: 4, topK: 2, expertHidden: 8 };
const build = (overrides: Record<string, unknown> = {}, seed = 3): MoeModel => {
  const model = moeTransformer.build(decodeConfig(moeTransformer.configSchema, { ...base, ...overrides }), {
    backend: cpu,
    seed,
  });
  randomizeParameters(model, seed + 1, 0.3);
  return model as MoeModel;
};

describe('moe plugin', () => {
  it('is registered and names its parameters like an HF MoE', () => {
    expect(registry.get('moe')).toBe(moeTransformer);
    const model = build();
    expect([...model.parameters.keys()]).toEqual(
      expect.arrayContaining([
        'model.layers.1.self_attn.q_proj.weight',
        'model.layers.1.post_attention_layernorm.weight',
        'model.layers.1.mlp.gate.weight',
        'model.layers.1.mlp.experts.gate_proj',
        'model.layers.1.mlp.experts.down_proj',
      ]),
    );
    model.dispose();
  });

  describe.each([
    ['no conv', {}],
    ['static q/k/v convs', { conv: 'static-qkv' }],
    ['DSC on q/k/v', { conv: 'dynamic-qkv', dsc: { rank: 2 } }],
  ])('%s', (_name, overrides) => {
    it('counts its parameters exactly (the dense transformer minus its MLPs plus the experts)', () => {
      const c = decodeConfig(moeTransformer.configSchema, { ...base, ...overrides });
      const model = moeTransformer.build(c, { backend: cpu });
      const total = [...model.parameters.values()].reduce((n, t) => n + t.size, 0);
      expect(moeTransformer.parameterCount(c)).toBe(total);
      const dense = decodeConfig(transformer.configSchema, { ...base, ...overrides, mlpHidden: 8 });
      const denseMlp = 3 * 16 * 8;
      expect(total).toBe(transformer.parameterCount(dense) + 2 * (4 * (16 + 3 * 16 * 8) - denseMlp));
      model.dispose();
    });

    it('decodes step by step exactly like the full forward (dropless)', async () => {
      const model = build(overrides);
      const [B, T] = [2, 7];
      const ids = randomIds(B, T, 17, 11);
      const full = model.forward({ ids });
      let state = model.initState(B, T);
      const chunks: Tensor[] = [];
      for (const [s, n] of [
        [0, 3],
        [3, 1],
        [4, 1],
        [5, 2],
      ] as const) {
        const r = model.step(narrow(ids, 1, s, n).contiguous(), state);
        state = r.state;
        chunks.push(r.logits);
      }
      expect(maxAbsDiff(await concat(chunks, 1).data(), await full.data())).toBeLessThan(5e-5);
      model.disposeState(state);
      model.dispose();
    });
  });

  it('auxLoss() hands over the weighted balance + z losses of the last forward, once, with gradients to the routers', async () => {
    const model = build({ loadBalancingCoef: 0.5, zLossCoef: 0.1 });
    const ids = randomIds(2, 6, 17, 5);
    expect(model.auxLoss!()).toBeNull();
    tidy(() => {
      model.forward({ ids });
      const aux = model.auxLoss!()!;
      expect(aux.shape).toEqual([]);
      expect(model.auxLoss!()).toBeNull();
      aux.backward();
    });
    for (const [name, p] of model.parameters) {
      const g = p.grad ? await p.grad.data() : null;
      const touched = g?.some((v) => v !== 0) ?? false;
      // The aux losses depend on every router and what feeds it; never on the last layer's experts or the final norm.
      if (/mlp\.gate\.weight$/.test(name)) expect(touched, name).toBe(true);
      if (/layers\.1\.mlp\.experts|model\.norm/.test(name)) expect(touched, name).toBe(false);
    }
    model.dispose();
  });

  it('trains: the loss with aux terms backpropagates to every parameter', async () => {
    const model = build({ capacityFactor: 1.5 });
    const ids = randomIds(2, 8, 17, 6);
    const loss = tidy(() => {
      const logits = model.forward({ ids: narrow(ids, 1, 0, 7).contiguous() });
      const l = crossEntropy(logits, narrow(ids, 1, 1, 7).contiguous()).add(model.auxLoss!()!);
      l.backward();
      return l.detach();
    });
    expect(Number.isFinite(await loss.item())).toBe(true);
    for (const [name, p] of model.parameters) {
      const g = await p.grad?.data();
      expect(
        g?.some((v) => v !== 0),
        name,
      ).toBe(true);
    }
    model.dispose();
  });

  it('reports routing: dropless drops nothing; a small capacity factor drops and counts', async () => {
    const ids = randomIds(2, 8, 17, 7);
    const dropless = build();
    tidy(() => void dropless.forward({ ids }));
    for (const s of await dropless.routingStats()) {
      expect(s!.dropped).toBe(0);
      expect(s!.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(2 * 8 * 2);
    }
    dropless.dispose();
    const tight = build({ capacityFactor: 0.25 });
    tidy(() => void tight.forward({ ids }));
    // capacity ⌈0.25·16·2/4⌉ = 2 rows per expert: at most 8 of the 32 assignments survive.
    for (const s of await tight.routingStats()) expect(s!.dropped).toBeGreaterThanOrEqual(32 - 8);
    tight.dispose();
  });

  it('counts active FLOPs: the router and k experts per token', () => {
    const c = decodeConfig(moeTransformer.configSchema, base);
    const t = decodeConfig(transformer.configSchema, { ...base, mlpHidden: 8 });
    // Dense per layer: 2·3·d·F; MoE per layer: router 2·d·E + k·6·d·F.
    const perLayer = 2 * 16 * 4 + 2 * 6 * 16 * 8 - 6 * 16 * 8;
    expect(moeTransformer.flopsPerToken(c, 32)).toBe(transformer.flopsPerToken(t, 32) + 3 * 2 * perLayer);
  });

  it('rejects bad configs with paths: top-k above the expert count, convs in the experts, renormalised top-1', () => {
    expect(decodeError({ ...base, topK: 5 })).toMatch(
      /topK 5 exceeds the 4 experts \(numExperts\)\n\s+at \["topK"\]/,
    );
    expect(decodeError({ ...base, conv: 'dynamic-all-linear' })).toMatch(/at \["conv"\]/);
    expect(decodeError({ ...base, nHeads: 3 })).toMatch(/at \["nHeads"\]/);
    // One renormalised weight is always 1: the router would learn from the aux losses only.
    expect(decodeError({ ...base, topK: 1 })).toMatch(
      /normalizeTopK with topK 1 .*\n\s+at \["normalizeTopK"\]/,
    );
    expect(() =>
      decodeConfig(moeTransformer.configSchema, { ...base, topK: 1, normalizeTopK: false }),
    ).not.toThrow();
  });
});
