import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '@dynconv/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, transformer } from '../src/index.js';
import { loadSafetensors, loadSafetensorsInto, saveSafetensors } from '../src/node.js';
import { cpu, randomizeParameters, tinyConfig } from './helpers.js';

/**
 * An independent reader of the safetensors layout, written from the format
 * description only (8-byte little-endian header length, JSON header,
 * data_offsets relative to the data section): it shares no code with the writer.
 */
type HeaderEntry = { dtype: string; shape: number[]; data_offsets: [number, number] };
function independentParse(bytes: Uint8Array): {
  header: Record<string, HeaderEntry | Record<string, string>>;
  dataStart: number;
} {
  let n = 0;
  for (let i = 7; i >= 0; i--) n = n * 256 + bytes[i]!;
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  return { header, dataStart: 8 + n };
}
const readF32 = (bytes: Uint8Array, start: number, count: number): number[] => {
  const out: number[] = [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out.push(buf.readFloatLE(start + 4 * i));
  return out;
};

const dir = await mkdtemp(join(tmpdir(), 'dynconv-ckpt-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('safetensors checkpoints', () => {
  it('a saved model reads back through an independent parser, byte for byte', async () => {
    const model = transformer.build(tinyConfig({ conv: 'dynamic-qkv', nLayers: 1 }), {
      backend: cpu,
      seed: 2,
    });
    randomizeParameters(model, 3);
    const path = join(dir, 'model.safetensors');
    await saveSafetensors(path, model.parameters, { step: '12' });
    const bytes = new Uint8Array(await readFile(path));
    const { header, dataStart } = independentParse(bytes);
    expect(dataStart % 8).toBe(0);
    expect(header['__metadata__']).toEqual({ step: '12' });
    expect(
      Object.keys(header)
        .filter((k) => k !== '__metadata__')
        .sort(),
    ).toEqual([...model.parameters.keys()].sort());
    for (const [name, t] of model.parameters) {
      const e = header[name] as HeaderEntry;
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(t.shape);
      const [begin, end] = e.data_offsets;
      expect(end - begin).toBe(4 * t.size);
      expect(readF32(bytes, dataStart + begin, t.size)).toEqual(Array.from(await t.data()));
    }
    // No temporary file is left behind by the atomic write.
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    model.dispose();
  });

  it('loads into a fresh model in place, restoring identical logits', async () => {
    const config = tinyConfig({ conv: 'dynamic-all-linear', preProjection: 'on+skip', nLayers: 1 });
    const a = transformer.build(config, { backend: cpu, seed: 1 });
    randomizeParameters(a, 9);
    const path = join(dir, 'a.safetensors');
    await saveSafetensors(path, a.parameters);
    const b = transformer.build(config, { backend: cpu, seed: 2 });
    const weight = b.parameters.get('model.layers.0.self_attn.q_conv.U')!;
    const { missing, unexpected } = await loadSafetensorsInto(path, b.parameters);
    expect([missing, unexpected]).toEqual([[], []]);
    expect(b.parameters.get('model.layers.0.self_attn.q_conv.U')).toBe(weight);
    const ids = tensor(Int32Array.from([1, 5, 2, 7]), { shape: [1, 4], backend: cpu });
    expect(Array.from(await b.forward({ ids }).data())).toEqual(Array.from(await a.forward({ ids }).data()));
    const other = transformer.build(tinyConfig({ nLayers: 1 }), { backend: cpu });
    await expect(loadSafetensorsInto(path, other.parameters)).rejects.toThrowError(/unexpected: .*q_conv/);
    for (const m of [a, b, other]) m.dispose();
  });

  it('encodes every dtype and decodes it back', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['f64', { dtype: 'F64', shape: [2], data: [1.5, -2.25] }],
        ['f16', { dtype: 'F16', shape: [3], data: [1, 0.5, -65504] }],
        ['bf16', { dtype: 'BF16', shape: [2], data: [1.0078125, -3] }],
        ['i32', { dtype: 'I32', shape: [2, 1], data: [-7, 2 ** 30] }],
        ['i64', { dtype: 'I64', shape: [1], data: [2 ** 40] }],
        ['u8', { dtype: 'U8', shape: [2], data: new Uint8Array([3, 250]) }],
        ['empty', { dtype: 'F32', shape: [0, 4], data: [] }],
      ] as const),
    );
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({});
    expect(Object.fromEntries([...tensors].map(([k, v]) => [k, Array.from(v.data)]))).toEqual({
      f64: [1.5, -2.25],
      f16: [1, 0.5, -65504],
      bf16: [1.0078125, -3],
      i32: [-7, 2 ** 30],
      i64: [2 ** 40],
      u8: [3, 250],
      empty: [],
    });
    expect(tensors.get('i32')!.shape).toEqual([2, 1]);
  });

  describe('corrupt files: the error names the file and the byte offset', () => {
    const good = encodeSafetensors(
      new Map([
        ['a', { dtype: 'F32', shape: [2], data: [1, 2] }],
        ['b', { dtype: 'F32', shape: [1], data: [3] }],
      ]),
    );
    const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
    const withHeader = (json: string) => {
      const h = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + h.length + 12);
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
      out.set(h, 8);
      return out;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['too short', good.subarray(0, 5), /at byte 0: file has 5 bytes/],
      [
        'header length past the end',
        good.subarray(0, 20),
        /at byte 0: header length \d+ runs past the end of the file \(20 bytes\)/,
      ],
      [
        'truncated data',
        good.subarray(0, good.length - 2),
        new RegExp(`at byte ${8 + headerLength + 8}: tensor 'b': bytes .* run past the end`),
      ],
      ['bad JSON', withHeader('{"a": {'), /at byte 8: header \(bytes 8\.\.15\) is not valid UTF-8 JSON/],
      [
        'unknown dtype',
        withHeader('{"a":{"dtype":"F12","shape":[3],"data_offsets":[0,12]}}'),
        /at byte 8: tensor 'a': unknown dtype "F12"/,
      ],
      [
        'size mismatch',
        withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}'),
        /tensor 'a': 12 bytes of data, but F32\[2\] needs 8/,
      ],
      [
        'overlap',
        withHeader(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        ),
        /tensor 'b' overlaps/,
      ],
      [
        'trailing bytes',
        withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        /4 trailing bytes belong to no tensor/,
      ],
    ];
    it.each(cases)('%s', async (_name, bytes, pattern) => {
      const path = join(dir, 'broken.safetensors');
      await writeFile(path, bytes);
      const error = await loadSafetensors(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message).toMatch(
        new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid safetensors`),
      );
      expect((error as Error).message).toMatch(pattern);
    });
  });
});
