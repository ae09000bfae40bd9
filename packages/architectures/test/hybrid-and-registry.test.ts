import { describe, expect, it } from 'vitest';
import { decodeConfig, hybrid, mixers, registry, transformer } from '../src/index.js';
import { cpu } from './helpers.js';

const decodeError = (schema: Parameters<typeof decodeConfig>[0], value: unknown): string => {
  try {
    decodeConfig(schema, value);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a decode error');
};

describe('registry', () => {
  it('lists and gets the built-in plugins; an unknown name lists the known ones', () => {
    expect(registry.list()).toEqual(expect.arrayContaining(['hybrid', 'transformer']));
    expect(registry.get('transformer')).toBe(transformer);
    expect(() => registry.get('mamba9')).toThrowError(
      /unknown architecture 'mamba9'; registered: .*hybrid.*transformer/,
    );
    expect(() => registry.register({ ...transformer })).toThrowError(/already registered/);
    expect(registry.register(transformer)).toBe(transformer);
    expect(mixers.list()).toContain('attention');
    expect(() => mixers.get('no-such-mixer')).toThrowError(
      /unknown mixer 'no-such-mixer'; registered: .*attention/,
    );
  });
});

describe('hybrid config', () => {
  const base = { vocabSize: 10, dModel: 12 };

  it('fills per-layer defaults and counts parameters like the transformer it equals', () => {
    const c = decodeConfig(hybrid.configSchema, {
      ...base,
      layers: [
        { mixer: 'attention', nHeads: 3 },
        { mixer: 'attention', nHeads: 3 },
      ],
    });
    expect(c.layers[0]).toMatchObject({
      mixer: 'attention',
      nHeads: 3,
      conv: 'none',
      qkNorm: false,
      preProjection: 'off',
    });
    const t = decodeConfig(transformer.configSchema, { ...base, nLayers: 2, nHeads: 3 });
    expect(hybrid.parameterCount(c)).toBe(transformer.parameterCount(t));
    expect(hybrid.flopsPerToken(c, 64)).toBe(transformer.flopsPerToken(t, 64));
    const model = hybrid.build(c, { backend: cpu });
    expect([...model.parameters.keys()]).toEqual([
      ...transformer.build(t, { backend: cpu }).parameters.keys(),
    ]);
    model.dispose();
  });

  it('errors name the offending layer index', () => {
    const message = decodeError(hybrid.configSchema, {
      ...base,
      layers: [
        { mixer: 'attention', nHeads: 3 },
        { mixer: 'attention', nHeads: 5 },
        { mixer: 'attention', nHeads: 6, nKvHeads: 4 },
      ],
    });
    expect(message).toMatch(
      /layer 1 \(attention\): nHeads 5 does not divide dModel 12.*\n\s+at \["layers"\]\[1\]\["nHeads"\]/,
    );
    expect(message).toMatch(
      /layer 2 \(attention\): nKvHeads 4 does not divide nHeads 6\n\s+at \["layers"\]\[2\]\["nKvHeads"\]/,
    );
    expect(message).not.toMatch(/\["layers"\]\[0\]/);
    expect(message.match(/\n\s+at /g)).toHaveLength(2);
  });

  it('an unknown mixer or a missing field is reported at its index (before cross-field checks)', () => {
    const message = decodeError(hybrid.configSchema, {
      ...base,
      layers: [{ mixer: 'attention', nHeads: 3 }, { mixer: 'mamba7' }, { mixer: 'attention' }],
    });
    expect(message).toMatch(/a layer \{ mixer: .*"attention".* \}\n\s+at \["layers"\]\[1\]/);
    expect(message).toMatch(/Missing key\n\s+at \["layers"\]\[2\]\["nHeads"\]/);
    expect(decodeError(hybrid.configSchema, { ...base, layers: [] })).toMatch(/at \["layers"\]/);
  });
});
