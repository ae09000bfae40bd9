import { type Backend, concat, narrow, noGrad, type Tensor, tidy, zerosLike } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import {
  decodeConfig,
  type HybridConfig,
  hybrid,
  type ModelV1,
  type MoeModel,
  mixers,
  moeLayerAttention,
  moeTransformer,
} from '../src/index.js';
import { decodeInChunks, gpuTest, maxRelDiff } from './gpu-fixture.js';
import { cpu, lmLoss, randomIds, randomizeParameters } from './helpers.js';

const decodeError = (value: unknown): string => {
  try {
    decodeConfig(hybrid.configSchema, value);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a decode error');
};

const [V, d] = [13, 16];
/** The `moe` layer: attention with DSC on q, k, v, then 4 experts of width 8. */
const moeLayer = {
  mixer: 'moe',
  nHeads: 2,
  conv: 'dynamic-qkv',
  dsc: { rank: 2 },
  numExperts: 4,
  topK: 2,
  expertHidden: 8,
  loadBalancingCoef: 0.5,
  zLossCoef: 0.1,
};
/** A GLA layer whose own MLP is a mixture of 3 experts (no renormalisation). */
const glaMoeLayer = {
  mixer: 'gla',
  nHeads: 2,
  chunkSize: 4,
  mlp: {
    kind: 'moe',
    numExperts: 3,
    topK: 2,
    expertHidden: 12,
    normalizeTopK: false,
    loadBalancingCoef: 0.2,
    zLossCoef: 0.05,
  },
};
/** Attention + dense MLP, moe layer, GLA + MoE MLP, Mamba-2 without MLP. */
const mixedFields = {
  vocabSize: V,
  dModel: d,
  mlpHidden: 20,
  layers: [
    { mixer: 'attention', nHeads: 2 },
    moeLayer,
    glaMoeLayer,
    { mixer: 'mamba2', dState: 4, headDim: 8, chunkSize: 4, mlp: 'none' },
  ],
};
const mixed = (): HybridConfig => decodeConfig(hybrid.configSchema, mixedFields);

const build = (c: HybridConfig, backend: Backend = cpu, seed = 5): MoeModel => {
  const model = hybrid.build(c, { backend, seed });
  randomizeParameters(model, seed + 1, 0.2);
  return model as MoeModel;
};

/** Host float64 RMSNorm · router → (Switch balance loss, z-loss) of one MoE layer over `tokens` input rows. */
function hostAux(rows: number[][], normW: number[], router: number[], E: number, k: number) {
  const N = rows.length;
  const f = new Array<number>(E).fill(0);
  const P = new Array<number>(E).fill(0);
  let z = 0;
  for (const x of rows) {
    const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + 1e-6);
    const xn = x.map((v, i) => (v / rms) * normW[i]!);
    const logits = Array.from({ length: E }, (_, e) =>
      xn.reduce((s, v, i) => s + v * router[e * x.length + i]!, 0),
    );
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
    const probs = logits.map((l) => Math.exp(l - lse));
    // Top-k, ties to the lower index (as the kernels rank).
    const chosen = [...probs.keys()].sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, k);
    for (const e of chosen) f[e]! += 1 / N;
    probs.forEach((p, e) => {
      P[e]! += p / N;
    });
    z += (lse * lse) / N;
  }
  return { balance: E * f.reduce((s, fe, e) => s + fe * P[e]!, 0), z };
}

const zeroParameter = (model: ModelV1, name: string) =>
  noGrad(() => {
    const p = model.parameters.get(name);
    if (!p) throw new Error(`no parameter ${name}`);
    const z = zerosLike(p);
    p.backend.copy(z.view(), p.view());
    z.dispose();
  });

describe('hybrid with MoE MLPs', () => {
  it('decodes a per-layer MLP (dense, none or MoE) and a moe layer with the moe plugin’s defaults', () => {
    const c = mixed();
    expect(c.mlp).toBe('swiglu');
    expect(c.layers[1]).toMatchObject({
      mixer: 'moe',
      conv: 'dynamic-qkv',
      qkNorm: false,
      normalizeTopK: true,
      numExperts: 4,
      topK: 2,
    });
    expect(c.layers[1]).not.toHaveProperty('capacityFactor');
    expect(c.layers[2]!.mlp).toMatchObject({ kind: 'moe', numExperts: 3, normalizeTopK: false });
    expect(c.layers[3]!.mlp).toBe('none');
    const everyLayer = decodeConfig(hybrid.configSchema, {
      vocabSize: V,
      dModel: d,
      mlp: { kind: 'moe' },
      layers: [{ mixer: 'attention', nHeads: 2 }],
    });
    expect(everyLayer.mlp).toEqual({
      kind: 'moe',
      numExperts: 8,
      topK: 2,
      normalizeTopK: true,
      loadBalancingCoef: 0.01,
      zLossCoef: 0.001,
    });
  });

  it('builds with HF names; parameters and FLOPs are the sums of the parts (active experts only)', () => {
    const c = mixed();
    const model = hybrid.build(c, { backend: cpu });
    const names = [...model.parameters.keys()];
    expect(names).toEqual(
      expect.arrayContaining([
        'model.layers.0.mlp.gate_proj.weight',
        'model.layers.1.self_attn.q_conv.U',
        'model.layers.1.mlp.gate.weight',
        'model.layers.1.mlp.experts.gate_proj',
        'model.layers.2.mixer.o_proj.weight',
        'model.layers.2.mlp.experts.down_proj',
        'model.layers.3.mixer.out_proj.weight',
      ]),
    );
    expect(names.filter((n) => n.startsWith('model.layers.3.') && /mlp|post_attention/.test(n))).toEqual([]);
    const total = [...model.parameters.values()].reduce((n, t) => n + t.size, 0);
    model.dispose();

    const ctx = { dModel: d };
    const mixer = (i: number, entry = c.layers[i]!) => mixers.get(entry.mixer).parameterCount(entry, ctx);
    const attention1 = moeLayerAttention(c.layers[1] as never);
    const experts = (E: number, F: number) => E * (d + 3 * d * F); // router + gate, up, down per expert
    const parts =
      V * d +
      d + // tied embedding, final norm
      (2 * d + mixer(0) + 3 * d * 20) +
      (2 * d + mixers.get('attention').parameterCount(attention1, ctx) + experts(4, 8)) +
      (2 * d + mixer(2) + experts(3, 12)) +
      (d + mixer(3));
    expect(hybrid.parameterCount(c)).toBe(total);
    expect(total).toBe(parts);

    // The moe layer alone is one layer of the moe plugin (same fields).
    const { mixer: _, ...moeFields } = moeLayer;
    const oneLayer = decodeConfig(moeTransformer.configSchema, {
      vocabSize: V,
      dModel: d,
      nLayers: 1,
      ...moeFields,
    });
    expect(moeTransformer.parameterCount(oneLayer) - (V * d + d)).toBe(
      2 * d + mixers.get('attention').parameterCount(attention1, ctx) + experts(4, 8),
    );

    const T = 32;
    const flops = (i: number, entry = c.layers[i]!) =>
      mixers.get(entry.mixer).forwardFlopsPerToken(entry, ctx, T);
    const moeFlops = (E: number, k: number, F: number) => 2 * d * E + k * 6 * d * F; // router + k SwiGLU experts
    const forward =
      2 * d * V +
      flops(0) +
      2 * 3 * d * 20 +
      mixers.get('attention').forwardFlopsPerToken(attention1, ctx, T) +
      moeFlops(4, 2, 8) +
      flops(2) +
      moeFlops(3, 2, 12) +
      flops(3);
    expect(hybrid.flopsPerToken(c, T)).toBe(3 * forward);
    expect(moeTransformer.flopsPerToken(oneLayer, T) / 3 - 2 * d * V).toBe(
      mixers.get('attention').forwardFlopsPerToken(attention1, ctx, T) + moeFlops(4, 2, 8),
    );
  });

  it('a hybrid of moe layers is the moe plugin: same names, counts, FLOPs, state shapes, logits and aux loss', async () => {
    const { mixer: _, ...moeFields } = moeLayer;
    const plugin = decodeConfig(moeTransformer.configSchema, {
      vocabSize: V,
      dModel: d,
      nLayers: 2,
      ...moeFields,
    });
    const h = decodeConfig(hybrid.configSchema, { vocabSize: V, dModel: d, layers: [moeLayer, moeLayer] });
    expect(hybrid.parameterCount(h)).toBe(moeTransformer.parameterCount(plugin));
    expect(hybrid.flopsPerToken(h, 24)).toBe(moeTransformer.flopsPerToken(plugin, 24));
    expect(hybrid.decodeStateShapes(h, 2, 9)).toEqual(moeTransformer.decodeStateShapes(plugin, 2, 9));
    // Same seed, same initialisation order: identical weights without any randomisation.
    const a = hybrid.build(h, { backend: cpu, seed: 3 }) as MoeModel;
    const b = moeTransformer.build(plugin, { backend: cpu, seed: 3 }) as MoeModel;
    expect([...a.parameters.keys()]).toEqual([...b.parameters.keys()]);
    for (const [name, p] of a.parameters)
      expect(await p.toArray(), name).toEqual(await b.parameters.get(name)!.toArray());
    const ids = randomIds(2, 7, V, 4);
    const [la, lb] = [a.forward({ ids }), b.forward({ ids })];
    expect(await la.toArray()).toEqual(await lb.toArray());
    const [xa, xb] = [a.auxLoss!()!, b.auxLoss!()!];
    expect(await xa.item()).toBe(await xb.item());
    for (const t of [la, lb, xa, xb, ids]) t.dispose();
    a.dispose();
    b.dispose();
  });

  it('auxLoss() is the sum over MoE layers of coef·balance + coef·z-loss, as computed directly', async () => {
    const model = build(mixed());
    // Zero every output projection into the residual stream (mixers, dense MLP, experts): then each
    // MoE layer's router sees RMSNorm(embedding), which the host can compute alone.
    for (const name of [
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.1.self_attn.o_proj.weight',
      'model.layers.1.mlp.experts.down_proj',
      'model.layers.2.mixer.o_proj.weight',
      'model.layers.2.mlp.experts.down_proj',
      'model.layers.3.mixer.out_proj.weight',
    ])
      zeroParameter(model, name);
    const ids = randomIds(3, 7, V, 9);
    expect(model.auxLoss!()).toBeNull();
    const logits = model.forward({ ids });
    const aux = model.auxLoss!()!;
    expect(model.auxLoss!()).toBeNull(); // handed over once
    const emb = await model.parameters.get('model.embed_tokens.weight')!.toArray();
    const rows = (await ids.toArray()).map((id) => emb.slice(id * d, (id + 1) * d));
    const layer = async (i: number, E: number, k: number) =>
      hostAux(
        rows,
        await model.parameters.get(`model.layers.${i}.post_attention_layernorm.weight`)!.toArray(),
        await model.parameters.get(`model.layers.${i}.mlp.gate.weight`)!.toArray(),
        E,
        k,
      );
    const [l1, l2] = [await layer(1, 4, 2), await layer(2, 3, 2)];
    const direct = 0.5 * l1.balance + 0.1 * l1.z + (0.2 * l2.balance + 0.05 * l2.z);
    expect(Math.abs((await aux.item()) - direct)).toBeLessThan(1e-5 * Math.abs(direct));
    const stats = await model.routingStats();
    expect(stats.map((s) => s!.tokensPerExpert.reduce((a, b) => a + b, 0))).toEqual([42, 42]);
    for (const t of [logits, aux, ids]) t.dispose();
    model.dispose();
  });

  it('the aux losses reach the training loss: CE + auxLoss() backpropagates into both routers', async () => {
    const model = build(mixed());
    const ids = randomIds(2, 8, V, 6);
    tidy(() => {
      const aux = tidy(() => {
        model.forward({ ids });
        return model.auxLoss!()!;
      });
      aux.backward();
    });
    for (const [name, p] of model.parameters) {
      const touched = (await p.grad?.data())?.some((v) => v !== 0) ?? false;
      // The aux terms depend on both routers and what feeds them; never on the last MoE layer's experts,
      // on what comes after it, or on the final norm.
      if (/mlp\.gate\.weight$/.test(name)) expect(touched, name).toBe(true);
      if (/layers\.2\.mlp\.experts|layers\.3\.|model\.norm/.test(name)) expect(touched, name).toBe(false);
      p.zeroGrad();
    }
    const loss = tidy(() => {
      const l = lmLoss(model, ids).add(model.auxLoss!()!);
      l.backward();
      return l.detach();
    });
    expect(Number.isFinite(await loss.item())).toBe(true);
    for (const [name, p] of model.parameters)
      expect(
        (await p.grad?.data())?.some((v) => v !== 0),
        name,
      ).toBe(true);
    loss.dispose();
    ids.dispose();
    model.dispose();
  });

  it('a per-layer capacity factor applies to that layer’s training forward only', async () => {
    const fields = structuredClone(mixedFields) as typeof mixedFields;
    (fields.layers[2] as typeof glaMoeLayer).mlp = { ...glaMoeLayer.mlp, capacityFactor: 0.25 } as never;
    const model = build(decodeConfig(hybrid.configSchema, fields));
    const ids = randomIds(2, 8, V, 7);
    tidy(() => void model.forward({ ids }));
    const [dropless, capped] = await model.routingStats();
    expect(dropless!.dropped).toBe(0);
    // ⌈0.25·16·2/3⌉ = 3 rows per expert: at most 9 of the 32 assignments survive.
    expect(capped!.dropped).toBeGreaterThanOrEqual(32 - 9);
    ids.dispose();
    model.dispose();
  });

  it('decodes step by step exactly like its full forward (dropless), with the declared cache shapes', async () => {
    const c = mixed();
    const model = build(c);
    const [B, T] = [2, 9];
    const ids = randomIds(B, T, V, 11);
    const full = model.forward({ ids });
    model.auxLoss!()?.dispose();
    let state = model.initState(B, T);
    const chunks: Tensor[] = [];
    for (const [s, n] of [
      [0, 5],
      [5, 1],
      [6, 1],
      [7, 2],
    ] as const) {
      const r = model.step(narrow(ids, 1, s, n).contiguous(), state);
      state = r.state;
      chunks.push(r.logits);
    }
    expect(maxRelDiff(await concat(chunks, 1).data(), await full.data())).toBeLessThan(1e-5);
    expect(Object.fromEntries([...state.tensors].map(([k, t]) => [k, t.shape]))).toEqual(
      hybrid.decodeStateShapes(c, B, T),
    );
    expect(model.auxLoss!()).toBeNull(); // decoding records no aux loss
    model.disposeState(state);
    for (const t of [...chunks, full, ids]) t.dispose();
    model.dispose();
  });

  it('a hybrid without MoE stays a plain model (no auxLoss)', () => {
    const model = hybrid.build(
      decodeConfig(hybrid.configSchema, {
        vocabSize: V,
        dModel: d,
        layers: [{ mixer: 'attention', nHeads: 2 }],
      }),
      { backend: cpu },
    );
    expect(model.auxLoss).toBeUndefined();
    model.dispose();
  });

  it('rejects bad MoE settings, listing every problem with its path', () => {
    const cross = decodeError({
      vocabSize: V,
      dModel: d,
      mlp: { kind: 'moe', numExperts: 2, topK: 3 },
      layers: [
        { ...moeLayer, nKvHeads: 3, topK: 5 },
        { ...glaMoeLayer, mlp: { kind: 'moe', numExperts: 4, topK: 1 } },
        { mixer: 'attention', nHeads: 2 },
      ],
    });
    expect(cross).toMatch(/mlp: topK 3 exceeds the 2 experts \(numExperts\)\n\s+at \["mlp"\]\["topK"\]/);
    expect(cross).toMatch(
      /layer 0 \(moe\): nKvHeads 3 does not divide nHeads 2\n\s+at \["layers"\]\[0\]\["nKvHeads"\]/,
    );
    expect(cross).toMatch(
      /layer 0 \(moe\): topK 5 exceeds the 4 experts \(numExperts\)\n\s+at \["layers"\]\[0\]\["topK"\]/,
    );
    expect(cross).toMatch(
      /layer 1 \(gla\) mlp: normalizeTopK with topK 1 .*\n\s+at \["layers"\]\[1\]\["mlp"\]\["normalizeTopK"\]/,
    );
    expect(cross.match(/\n\s+at /g)).toHaveLength(4);

    const schema = decodeError({
      vocabSize: V,
      dModel: d,
      layers: [
        { ...moeLayer, capacityFactor: 0, zLossCoef: -1 },
        { ...glaMoeLayer, mlp: { kind: 'moe', numExperts: 0, expertHidden: 2.5 } },
        { mixer: 'mamba2', mlp: 'relu' },
        { ...moeLayer, conv: 'dynamic-qkvo' },
      ],
    });
    expect(schema).toMatch(/at \["layers"\]\[0\]\["capacityFactor"\]/);
    expect(schema).toMatch(/at \["layers"\]\[0\]\["zLossCoef"\]/);
    expect(schema).toMatch(/at \["layers"\]\[1\]\["mlp"\]\["numExperts"\]/);
    expect(schema).toMatch(/at \["layers"\]\[1\]\["mlp"\]\["expertHidden"\]/);
    expect(schema).toMatch(/at \["layers"\]\[2\]\["mlp"\]/);
    expect(schema).toMatch(/at \["layers"\]\[3\]\["conv"\]/);
    expect(schema.match(/\n\s+at /g)).toHaveLength(6);
  });
});

describe('hybrid with MoE MLPs: CPU vs WebGPU (tiny config)', () => {
  gpuTest(
    'same logits, loss with aux terms and gradients; GPU decode equals the GPU forward',
    async ({ backend }) => {
      const c = mixed();
      const onCpu = build(c, cpu);
      const onGpu = build(c, backend);
      const run = async (model: MoeModel, ids: Tensor) => {
        const out = model.forward({ ids });
        const logits = await out.data();
        out.dispose();
        model.auxLoss!()?.dispose();
        const loss = tidy(() => {
          const l = lmLoss(model, ids).add(model.auxLoss!()!);
          l.backward();
          return l.detach();
        });
        const grads = new Map<string, ArrayLike<number>>();
        for (const [name, p] of model.parameters) grads.set(name, await p.grad!.data());
        for (const p of model.parameters.values()) p.zeroGrad();
        const value = await loss.item();
        loss.dispose();
        return { logits, loss: value, grads };
      };
      const a = await run(onCpu, randomIds(2, 9, V, 7, cpu));
      const ids = randomIds(2, 9, V, 7, backend);
      const b = await run(onGpu, ids);
      expect(maxRelDiff(b.logits, a.logits)).toBeLessThan(1e-4);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-4);
      for (const [name, g] of a.grads) expect(maxRelDiff(b.grads.get(name)!, g), name).toBeLessThan(2e-3);
      // A second identical step leaves nothing behind (the first may fill backend caches).
      await backend.sync();
      const before = backend.liveBuffers();
      expect((await run(onGpu, ids)).loss).toBe(b.loss);
      await backend.sync();
      expect(backend.liveBuffers()).toBe(before);
      const decoded = await decodeInChunks(onGpu, ids, [
        [0, 4],
        [4, 1],
        [5, 1],
        [6, 3],
      ]);
      expect(maxRelDiff(decoded, b.logits)).toBeLessThan(1e-4);
      ids.dispose();
      onCpu.dispose();
      onGpu.dispose();
    },
  );
});
