import { concat, narrow, type Tensor, tensor } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import {
  type ArchitectureV1,
  decodeConfig,
  gatedDeltaNet,
  glaArchitecture,
  hybrid,
  type ModelV1,
  mamba2,
  mixers,
  moeTransformer,
  registry,
} from '../src/index.js';
import { cpu, lmLoss, randomIds, randomizeParameters, sgdStep } from './helpers.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Number.POSITIVE_INFINITY;
};

const decodeError = (schema: Parameters<typeof decodeConfig>[0], value: unknown): string => {
  try {
    decodeConfig(schema, value);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a decode error');
};

/**
 * Prefill `prefill` tokens (the chunked scan from a state), then one token at
 * a time (the recurrent step); all logits must equal one full forward, and
 * the final caches must have the declared shapes.
 */
async function expectDecodeMatchesForward(
  model: ModelV1,
  shapes: Record<string, readonly number[]>,
  vocab: number,
) {
  const [B, T, prefill] = [2, 9, 5];
  const ids = randomIds(B, T, vocab, 11);
  const full = model.forward({ ids });
  let state = model.initState(B, T);
  const chunks: Tensor[] = [];
  for (const [s, n] of [
    [0, prefill],
    ...Array.from({ length: T - prefill }, (_, i) => [prefill + i, 1]),
  ] as const) {
    const r = model.step(narrow(ids, 1, s, n).contiguous(), state);
    state = r.state;
    chunks.push(r.logits);
  }
  expect(maxAbsDiff(await concat(chunks, 1).data(), await full.data())).toBeLessThan(5e-5);
  expect(Object.fromEntries([...state.tensors].map(([k, t]) => [k, t.shape]))).toEqual(shapes);
  model.disposeState(state);
  for (const t of [...chunks, full, ids]) t.dispose();
}

/** Packed rows with `docStart` give the same logits as each document alone. */
async function expectDocumentsIsolated(model: ModelV1, vocab: number) {
  const T = 10;
  const cuts = [4, 7];
  const ids = randomIds(1, T, vocab, 21);
  const starts = Array.from({ length: T }, (_, t) => Math.max(0, ...cuts.filter((c) => c <= t)));
  const docStart = tensor(Int32Array.from(starts), { shape: [1, T], backend: cpu });
  const packed = await model.forward({ ids, docStart }).data();
  const bounds = [0, ...cuts, T];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [s, e] = [bounds[i]!, bounds[i + 1]!];
    const alone = await model.forward({ ids: narrow(ids, 1, s, e - s).contiguous() }).data();
    expect(maxAbsDiff(packed.slice(s * vocab, e * vocab), alone)).toBeLessThan(5e-5);
  }
}

type Plugin = ArchitectureV1<unknown>;
const base = { vocabSize: 17, dModel: 16, nLayers: 2 };
const convVariants: [string, Record<string, unknown>][] = [
  ['static conv', { conv: 'static' }],
  ['DSC low-rank', { conv: 'dynamic', dsc: { rank: 3, width: 3 } }],
  ['DSC head-wise', { conv: 'dynamic', dsc: { variant: 'head-wise', headSize: 4 } }],
  ['no conv', { conv: 'none' }],
];
const plugins: [string, Plugin, Record<string, unknown>][] = [
  ['mamba2', mamba2 as Plugin, { dState: 4, headDim: 8, nGroups: 2, chunkSize: 4 }],
  ['gated-deltanet', gatedDeltaNet as Plugin, { nHeads: 2, expandV: 1.5, chunkSize: 4, mlpHidden: 24 }],
  ['gla', glaArchitecture as Plugin, { nHeads: 2, gateLowRankDim: 4, chunkSize: 4, mlpHidden: 24 }],
];

describe.each(plugins)('%s plugin', (name, plugin, fields) => {
  it('is registered, and its mixer too (usable in hybrid layers)', () => {
    expect(registry.get(name)).toBe(plugin);
    expect(mixers.has(name)).toBe(true);
  });

  describe.each(convVariants)('%s', (_variant, conv) => {
    const config = () => decodeConfig(plugin.configSchema, { ...base, ...fields, ...conv });

    it('decodes step by step (prefill chunk, then single tokens) exactly like the full forward', async () => {
      const c = config();
      const model = plugin.build(c, { backend: cpu, seed: 3 });
      randomizeParameters(model, 4, 0.2);
      await expectDecodeMatchesForward(model, plugin.decodeStateShapes(c, 2, 9), base.vocabSize);
      model.dispose();
    });

    it('keeps packed documents apart (convs and recurrent state)', async () => {
      const model = plugin.build(config(), { backend: cpu, seed: 5 });
      randomizeParameters(model, 6, 0.2);
      await expectDocumentsIsolated(model, base.vocabSize);
      model.dispose();
    });

    it('counts its parameters exactly and every parameter gets a finite, non-zero gradient', async () => {
      const c = config();
      const model = plugin.build(c, { backend: cpu, seed: 7 });
      randomizeParameters(model, 8, 0.2);
      const total = [...model.parameters.values()].reduce((n, t) => n + t.size, 0);
      expect(plugin.parameterCount(c)).toBe(total);
      const ids = randomIds(2, 9, base.vocabSize, 9);
      lmLoss(model, ids).backward();
      for (const [pname, p] of model.parameters) {
        const g = await p.grad?.data();
        expect(g, pname).toBeDefined();
        expect(g!.every(Number.isFinite), pname).toBe(true);
        expect(
          g!.some((v) => v !== 0),
          pname,
        ).toBe(true);
      }
      model.dispose();
    });
  });
});

describe('linear mixer configs', () => {
  it('Mamba-2: head dims that do not divide, bad groups and chunk sizes are reported with paths before any build', () => {
    const message = decodeError(mamba2.configSchema, {
      ...base,
      headDim: 5,
      chunkSize: 48,
      dsc: { width: 9 },
    });
    expect(message).toMatch(/must be a power of two, got 48\n\s+at \["chunkSize"\]/);
    expect(message).toMatch(/Expected a value less than or equal to 8\n\s+at \["dsc"\]\["width"\]/);
    const cross = decodeError(mamba2.configSchema, { ...base, headDim: 5 });
    expect(cross).toMatch(/headDim 5 does not divide expand·dModel = 2·16 = 32\n\s+at \["headDim"\]/);
    expect(decodeError(mamba2.configSchema, { ...base, headDim: 8, nGroups: 3 })).toMatch(
      /nGroups 3 does not divide the 4 heads\n\s+at \["nGroups"\]/,
    );
    expect(decodeError(mamba2.configSchema, { ...base, chunkSize: 512 })).toMatch(/at \["chunkSize"\]/);
  });

  it('Gated DeltaNet and GLA: head counts and head-wise DSC sizes are checked with paths', () => {
    expect(decodeError(gatedDeltaNet.configSchema, { ...base, nHeads: 3 })).toMatch(
      /nHeads 3 does not divide dModel 16 \(or set headDim\)\n\s+at \["nHeads"\]/,
    );
    expect(
      decodeError(gatedDeltaNet.configSchema, {
        ...base,
        nHeads: 2,
        conv: 'dynamic',
        dsc: { variant: 'head-wise', headSize: 12 },
      }),
    ).toMatch(/head size 12 does not divide the q\/k stream width 16\n\s+at \["dsc"\]\["headSize"\]/);
    expect(decodeError(glaArchitecture.configSchema, { ...base, nHeads: 3 })).toMatch(
      /nHeads 3 does not divide expandK × dModel = 8\n\s+at \["nHeads"\]/,
    );
    expect(decodeError(glaArchitecture.configSchema, { ...base, nHeads: 2, expandK: 0.3 })).toMatch(
      /expandK 0.3 × dModel 16 is not an integer\n\s+at \["expandK"\]/,
    );
  });

  it('in a hybrid config, errors name the layer index and path', () => {
    const message = decodeError(hybrid.configSchema, {
      vocabSize: 10,
      dModel: 16,
      layers: [
        { mixer: 'mamba2', headDim: 8 },
        { mixer: 'gated-deltanet', nHeads: 5 },
        { mixer: 'gla', nHeads: 2, chunkSize: 3 },
      ],
    });
    expect(message).toMatch(/must be a power of two, got 3\n\s+at \["layers"\]\[2\]\["chunkSize"\]/);
    const cross = decodeError(hybrid.configSchema, {
      vocabSize: 10,
      dModel: 16,
      layers: [
        { mixer: 'mamba2', headDim: 8 },
        { mixer: 'gated-deltanet', nHeads: 5 },
      ],
    });
    expect(cross).toMatch(
      /layer 1 \(gated-deltanet\): nHeads 5 does not divide dModel 16.*\n\s+at \["layers"\]\[1\]\["nHeads"\]/,
    );
  });

  it('defaults follow the reference implementations', () => {
    const m = decodeConfig(mamba2.configSchema, { ...base, dModel: 128 });
    expect(m).toMatchObject({
      dState: 64,
      headDim: 64,
      expand: 2,
      nGroups: 1,
      conv: 'static',
      chunkSize: 64,
      mlp: 'none',
    });
    const g = decodeConfig(gatedDeltaNet.configSchema, { ...base, nHeads: 2 });
    expect(g).toMatchObject({ expandV: 2, useGate: true, conv: 'static', chunkSize: 64, mlp: 'swiglu' });
    const l = decodeConfig(glaArchitecture.configSchema, { ...base, nHeads: 2 });
    expect(l).toMatchObject({
      expandK: 0.5,
      expandV: 1,
      gateLowRankDim: 16,
      gateLogitNormalizer: 16,
      chunkSize: 16,
    });
  });
});

describe('linear mixer counts', () => {
  it('Gated DeltaNet: parameters and FLOPs per token match a hand count', () => {
    // d=16, H=2, K=8, V=8 (expandV 1), static conv W=4, no MLP, untied head: vocab 10.
    const c = decodeConfig(gatedDeltaNet.configSchema, {
      vocabSize: 10,
      dModel: 16,
      nLayers: 1,
      nHeads: 2,
      expandV: 1,
      mlp: 'none',
      tieEmbeddings: false,
      chunkSize: 4,
    });
    const mixer = 16 * 16 * 2 + 16 * 16 + 2 * 16 * 2 + 16 * 16 + 2 * 2 + 8 + 16 * 16 + 3 * 4 * 16;
    expect(gatedDeltaNet.parameterCount(c)).toBe(10 * 16 * 2 + 16 + 16 + mixer);
    // Projections q,k,v,a,b,g (2·16·(16+16+16+2+2+16)), o_proj (2·16·16), convs (3·(2·4·16)),
    // per head: UT transform (Q=4: 2·(2K+4) + 1·(8K+32) over 4 tokens), 4Q(K+V), 6KV.
    const ut = (2 * (2 * 8 + 4) + (8 * 8 + 32)) / 4;
    const scan = 2 * (ut + 4 * 4 * 16 + 6 * 64);
    const forward = 2 * 16 * 68 + 2 * 16 * 16 + 3 * 2 * 4 * 16 + scan + 2 * 16 * 10;
    expect(gatedDeltaNet.flopsPerToken(c, 64)).toBe(3 * forward);
  });

  it('a DSC conv adds exactly its generator, basis and static filter', () => {
    const fields = { ...base, nLayers: 1, dState: 4, headDim: 8, mlp: 'none' };
    const s = decodeConfig(mamba2.configSchema, { ...fields, conv: 'static' });
    const d = decodeConfig(mamba2.configSchema, { ...fields, conv: 'dynamic', dsc: { rank: 2 } });
    const convDim = 32 + 2 * 4; // dInner + 2·G·N
    // static: weight W·D + bias D; DSC: proj d·R + U R·W·D + static_w W·D (no bias).
    expect(mamba2.parameterCount(d) - mamba2.parameterCount(s)).toBe(
      16 * 2 + 2 * 4 * convDim + 4 * convDim - (4 * convDim + convDim),
    );
  });
});

describe('hybrid with linear mixers', () => {
  it('mixes attention, Mamba-2, Gated DeltaNet and GLA layers and decodes like its full forward', async () => {
    const config = decodeConfig(hybrid.configSchema, {
      vocabSize: 13,
      dModel: 16,
      mlpHidden: 20,
      layers: [
        { mixer: 'mamba2', dState: 4, headDim: 8, chunkSize: 4, conv: 'dynamic', dsc: { rank: 2 } },
        { mixer: 'attention', nHeads: 2 },
        { mixer: 'gated-deltanet', nHeads: 2, expandV: 1, chunkSize: 2 },
        {
          mixer: 'gla',
          nHeads: 4,
          conv: 'dynamic',
          dsc: { variant: 'head-wise', headSize: 2 },
          chunkSize: 8,
        },
      ],
    });
    const model = hybrid.build(config, { backend: cpu, seed: 5 });
    randomizeParameters(model, 6, 0.2);
    expect([...model.parameters.keys()]).toEqual(
      expect.arrayContaining([
        'model.layers.0.mixer.in_proj.weight',
        'model.layers.0.mixer.xbc_conv.U',
        'model.layers.0.mixer.A_log',
        'model.layers.1.self_attn.q_proj.weight',
        'model.layers.2.mixer.q_conv.weight',
        'model.layers.2.mixer.dt_bias',
        'model.layers.3.mixer.gk_proj.1.bias',
        'model.layers.3.mixer.v_conv.proj.weight',
      ]),
    );
    const total = [...model.parameters.values()].reduce((n, t) => n + t.size, 0);
    expect(hybrid.parameterCount(config)).toBe(total);
    await expectDecodeMatchesForward(model, hybrid.decodeStateShapes(config, 2, 9), 13);
    model.dispose();
  });
});

describe('training from the plugins’ own initialisation', () => {
  const cases: [string, Plugin, Record<string, unknown>][] = [
    ['mamba2 static', mamba2 as Plugin, { dState: 8, headDim: 8, chunkSize: 8 }],
    [
      'mamba2 DSC',
      mamba2 as Plugin,
      { dState: 8, headDim: 8, chunkSize: 8, conv: 'dynamic', dsc: { rank: 4 } },
    ],
    ['gated-deltanet static', gatedDeltaNet as Plugin, { nHeads: 2, chunkSize: 8, mlpHidden: 24 }],
    [
      'gated-deltanet DSC',
      gatedDeltaNet as Plugin,
      { nHeads: 2, chunkSize: 8, mlpHidden: 24, conv: 'dynamic', dsc: { rank: 4 } },
    ],
    ['gla static', glaArchitecture as Plugin, { nHeads: 2, chunkSize: 8, mlpHidden: 24 }],
    [
      'gla DSC head-wise',
      glaArchitecture as Plugin,
      { nHeads: 2, chunkSize: 8, mlpHidden: 24, conv: 'dynamic', dsc: { variant: 'head-wise', headSize: 4 } },
    ],
    [
      'moe DSC q/k/v, capacity 1.5',
      moeTransformer as Plugin,
      {
        nHeads: 4,
        numExperts: 4,
        topK: 2,
        expertHidden: 16,
        capacityFactor: 1.5,
        conv: 'dynamic-qkv',
        dsc: { rank: 4 },
      },
    ],
  ];
  it.each(cases)(
    '%s: SGD steps reduce the loss, leak nothing per step, and dispose frees everything',
    async (_name, plugin, fields) => {
      const before = cpu.liveBuffers();
      const model = plugin.build(decodeConfig(plugin.configSchema, { ...base, vocabSize: 19, ...fields }), {
        backend: cpu,
        seed: 7,
      });
      const ids = randomIds(4, 12, 19, 8);
      const losses = [await sgdStep(model, ids, 0.5)];
      const live = cpu.liveBuffers();
      for (let i = 0; i < 7; i++) {
        losses.push(await sgdStep(model, ids, 0.5));
        expect(cpu.liveBuffers()).toBe(live);
      }
      expect(losses[0]).toBeGreaterThan(Math.log(19) - 0.2);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.3);
      const state = model.initState(2, 8);
      model.disposeState(state);
      model.dispose();
      ids.dispose();
      expect(cpu.liveBuffers()).toBe(before);
    },
  );
});
