import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Field,
  Int32,
  List,
  RecordBatchFileWriter,
  Schema,
  Table,
  tableFromArrays,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import {
  DataError,
  decodeTokenShard,
  encodeTokenShard,
  readTokenShard,
  TokenShardBuilder,
  writeTokenShard,
} from '../src/index.js';
import { Rng, randomDocs, tempDir } from './helpers.js';

const docsOf = (shard: Awaited<ReturnType<typeof readTokenShard>>): number[][] =>
  shard.chunks.flatMap((c) =>
    Array.from({ length: c.offsets.length - 1 }, (_, d) =>
      Array.from(c.tokens.subarray(c.offsets[d]!, c.offsets[d + 1]!)),
    ),
  );

describe('token shards', () => {
  it('round-trip random documents of odd sizes, uint16 and uint32, across record batches', async () => {
    const dir = await tempDir();
    const rng = new Rng(11);
    for (const [type, vocab] of [
      ['uint16', 65_536],
      ['uint32', 2 ** 32],
    ] as const) {
      for (const batchTokens of [1, 7, 1000]) {
        const docs = randomDocs(rng, 1 + rng.nextInt(60), 37, vocab);
        const path = join(dir, `${type}-${batchTokens}.arrow`);
        const written = await writeTokenShard(path, docs, {
          tokenType: type,
          recordBatchTokens: batchTokens,
        });
        const shard = await readTokenShard(path, { sha256: written.sha256 });
        expect(shard.tokenType).toBe(type);
        expect(shard.documents).toBe(docs.length);
        expect(shard.tokens).toBe(docs.reduce((s, d) => s + d.length, 0));
        expect(docsOf(shard)).toEqual(docs);
        // One record batch closes after each non-empty document; trailing empty ones form a last batch.
        if (batchTokens === 1)
          expect(shard.chunks.length).toBe(
            docs.filter((d) => d.length > 0).length + (docs.at(-1)!.length === 0 ? 1 : 0),
          );
      }
    }
  });

  it('encodes deterministically (same documents, same bytes)', () => {
    const docs = randomDocs(new Rng(12), 20, 50, 1000);
    const a = new TokenShardBuilder({ tokenType: 'uint16', recordBatchTokens: 64 });
    const b = new TokenShardBuilder({ tokenType: 'uint16', recordBatchTokens: 64 });
    for (const d of docs) {
      a.add(d);
      b.add(Uint32Array.from(d));
    }
    expect(Buffer.from(a.finish().bytes).equals(Buffer.from(b.finish().bytes))).toBe(true);
  });

  it('refuses ids that do not fit the element type', () => {
    const builder = new TokenShardBuilder({ tokenType: 'uint16' });
    expect(() => builder.add([1, 65_536])).toThrow(RangeError);
    expect(() => builder.add([-1])).toThrow(RangeError);
    expect(() => builder.add([1.5])).toThrow(RangeError);
  });
});

describe('bad shards', () => {
  const write = async (dir: string) => {
    const docs = randomDocs(new Rng(13), 30, 40, 500).map((d) => (d.length ? d : [1]));
    const path = join(dir, 'shard.arrow');
    const info = await writeTokenShard(path, docs, { tokenType: 'uint16', recordBatchTokens: 100 });
    return { path, docs, info };
  };

  it('missing file: DataError missing naming the file', async () => {
    const dir = await tempDir();
    const err = await readTokenShard(join(dir, 'nope.arrow')).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.code).toBe('missing');
    expect(err.file).toBe(join(dir, 'nope.arrow'));
    expect(err.message).toContain('nope.arrow');
  });

  it('truncated at any point: DataError truncated/corrupt with the byte offset', async () => {
    const dir = await tempDir();
    const { path } = await write(dir);
    const bytes = await readFile(path);
    const rng = new Rng(14);
    const cuts = [
      0,
      1,
      5,
      6,
      7,
      bytes.length - 1,
      bytes.length - 6,
      bytes.length - 10,
      ...Array.from({ length: 20 }, () => rng.nextInt(bytes.length)),
    ];
    for (const cut of cuts) {
      const err = (() => {
        try {
          decodeTokenShard(path, bytes.subarray(0, cut));
          return undefined;
        } catch (e) {
          return e as DataError;
        }
      })();
      expect(err, `cut at ${cut}`).toBeInstanceOf(DataError);
      expect(['truncated', 'corrupt']).toContain(err!.code);
      expect(err!.file).toBe(path);
      if (cut >= 12) expect(err!.offset).toBe(cut);
    }
  });

  it('truncated with a manifest checksum: DataError checksum', async () => {
    const dir = await tempDir();
    const { path, info } = await write(dir);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 100));
    const err = await readTokenShard(path, { sha256: info.sha256 }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.code).toBe('checksum');
    expect(err.message).toContain(path);
  });

  it('a flipped byte in the token data is caught by the checksum', async () => {
    const dir = await tempDir();
    const { path, info } = await write(dir);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x5a;
    await writeFile(path, bytes);
    await expect(readTokenShard(path, { sha256: info.sha256 })).rejects.toMatchObject({
      code: 'checksum',
      file: path,
    });
  });

  it('garbage bytes: DataError corrupt at offset 0', () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
    expect(() => decodeTokenShard('g.arrow', garbage)).toThrow(
      expect.objectContaining({ code: 'corrupt', file: 'g.arrow', offset: 0 }),
    );
  });

  it('wrong column type (List<Int32>, Utf8) or missing column: typed DataError', async () => {
    const dir = await tempDir();
    const int32List = new Schema([new Field('tokens', new List(new Field('item', new Int32(), true)), true)]);
    const table = new Table(int32List, {
      tokens: vectorFromArray([[1, 2], [3]], new List(new Field('item', new Int32(), true))),
    } as never);
    const p1 = join(dir, 'int32.arrow');
    await writeFile(p1, RecordBatchFileWriter.writeAll(table).toUint8Array(true));
    await expect(readTokenShard(p1)).rejects.toMatchObject({ code: 'column-type', file: p1 });

    const p2 = join(dir, 'utf8.arrow');
    await writeFile(p2, tableToIPC(new Table({ tokens: vectorFromArray(['a', 'b'], new Utf8()) }), 'file'));
    const err = await readTokenShard(p2).catch((e) => e);
    expect(err).toMatchObject({ code: 'column-type', file: p2 });
    expect(err.message).toMatch(/List<Uint16> or List<Uint32>/);

    const p3 = join(dir, 'other.arrow');
    await writeFile(p3, tableToIPC(tableFromArrays({ ids: Int32Array.of(1, 2) }), 'file'));
    await expect(readTokenShard(p3)).rejects.toMatchObject({ code: 'column-missing', file: p3 });
  });

  it('token ids at or above the vocabulary size: DataError token-range with the document index', async () => {
    const dir = await tempDir();
    const docs = [[1, 2], [3], [4, 99, 5], [6]];
    const path = join(dir, 's.arrow');
    await writeTokenShard(path, docs, { tokenType: 'uint16', recordBatchTokens: 2 });
    expect((await readTokenShard(path, { vocabSize: 100 })).documents).toBe(4);
    const err = await readTokenShard(path, { vocabSize: 99 }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err).toMatchObject({ code: 'token-range', file: path, record: 2 });
    expect(err.message).toContain('99');
  });

  it('encodeTokenShard of no chunks is a valid empty shard', () => {
    const shard = decodeTokenShard('empty', encodeTokenShard([], 'uint32'));
    expect(shard).toMatchObject({ documents: 0, tokens: 0, tokenType: 'uint32' });
  });
});
