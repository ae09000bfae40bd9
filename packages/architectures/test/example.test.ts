import { concat, narrow, type Tensor } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { convLM } from '../src/examples/conv-lm/index.js';
import { decodeConfig, hybrid, mixers, registry } from '../src/index.js';
import { cpu, randomIds, randomizeParameters, sgdStep } from './helpers.js';

describe('worked example: conv-lm (src/examples/conv-lm)', () => {
  it('registers itself and its mixer on import', () => {
    expect(registry.get('conv-lm')).toBe(convLM);
    expect(mixers.list()).toContain('gated-conv');
    expect(() =>
      decodeConfig(convLM.configSchema, { vocabSize: 9, dModel: 8, nLayers: 1, mlpHidden: 4 }),
    ).toThrowError(/narrower than dModel 8\n\s+at \["mlpHidden"\]/);
  });

  it('trains: a few SGD steps lower the loss; counts match the built model', async () => {
    const config = decodeConfig(registry.get('conv-lm').configSchema, {
      vocabSize: 17,
      dModel: 12,
      nLayers: 2,
      mlpHidden: 16,
    });
    const model = registry.get('conv-lm').build(config, { backend: cpu, seed: 1 });
    expect([...model.parameters.values()].reduce((s, t) => s + t.size, 0)).toBe(
      convLM.parameterCount(config),
    );
    expect(model.parameters.has('model.layers.1.mixer.conv.weight')).toBe(true);
    const ids = randomIds(3, 10, 17, 2);
    const first = await sgdStep(model, ids, 1);
    let last = first;
    for (let i = 0; i < 5; i++) last = await sgdStep(model, ids, 1);
    expect(last).toBeLessThan(first - 0.1);
    model.dispose();
    ids.dispose();
  });

  it('its mixer plugs into hybrid next to attention, and decoding matches the forward', async () => {
    const config = decodeConfig(hybrid.configSchema, {
      vocabSize: 11,
      dModel: 8,
      layers: [
        { mixer: 'gated-conv', width: 3 },
        { mixer: 'attention', nHeads: 2 },
        { mixer: 'gated-conv', expand: 2 },
      ],
    });
    const model = hybrid.build(config, { backend: cpu, seed: 3 });
    randomizeParameters(model, 4);
    const ids = randomIds(2, 5, 11, 5);
    const full = await model.forward({ ids }).data();
    let state = model.initState(2, 5);
    const out: Tensor[] = [];
    for (let t = 0; t < 5; t++) {
      const r = model.step(narrow(ids, 1, t, 1).contiguous(), state);
      state = r.state;
      out.push(r.logits);
    }
    const stepped = await concat(out, 1).data();
    let worst = 0;
    for (let i = 0; i < full.length; i++) worst = Math.max(worst, Math.abs(full[i]! - stepped[i]!));
    expect(worst).toBeLessThan(2e-5);
    expect(Object.keys(hybrid.decodeStateShapes(config, 2, 5))).toEqual([
      'layers.0.mixer.conv',
      'layers.1.self_attn.k',
      'layers.1.self_attn.v',
      'layers.2.mixer.conv',
    ]);
    model.disposeState(state);
    model.dispose();
  });
});
