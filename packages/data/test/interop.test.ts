/**
 * Interop with pyarrow.
 *
 * The fixtures in test/fixtures were made by pyarrow 25.0.1 (Python 3.12) running
 * `test/fixtures/make_fixtures.py` on the project's GPU machine (this machine has no pyarrow):
 * texts.parquet (snappy, 3 row groups), texts.arrow, tokens.arrow (IPC file), tokens.arrows (IPC
 * stream), tokens_lz4.feather (Feather v2, LZ4), and expected.json (their contents, plus what
 * pyarrow read from dynconv_uint16.arrow / dynconv_uint32.arrow, which this package's writer made
 * from dynconv_written.json before that run). To refresh: regenerate the dynconv_*.arrow files (see
 * the last test), then run `python3 make_fixtures.py` in test/fixtures with pyarrow installed.
 * Each test skips, saying why, when its fixture is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ByteLevelTokenizer,
  decodeLz4Frame,
  ingest,
  openTokenCorpus,
  readArrowDocuments,
  readParquetDocuments,
  readTokenShard,
  TokenShardBuilder,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => join(FIXTURES, name);
const has = (...names: string[]) => names.every((n) => existsSync(fixture(n)));
const expected = has('expected.json')
  ? JSON.parse(readFileSync(fixture('expected.json'), 'utf8'))
  : undefined;
const missing = 'pyarrow fixtures absent: run test/fixtures/make_fixtures.py with pyarrow';

const docsOf = (shard: Awaited<ReturnType<typeof readTokenShard>>): number[][] =>
  shard.chunks.flatMap((c) =>
    Array.from({ length: c.offsets.length - 1 }, (_, d) =>
      Array.from(c.tokens.subarray(c.offsets[d]!, c.offsets[d + 1]!)),
    ),
  );

async function collect(gen: AsyncIterable<{ text: string | null }>): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for await (const d of gen) out.push(d.text);
  return out;
}

describe('reading what pyarrow wrote', () => {
  it.skipIf(!has('expected.json', 'texts.parquet'))(
    `Parquet text column (snappy, several row groups) [${missing}]`,
    async () => {
      expect(expected.parquet.compression).toBe('SNAPPY');
      expect(expected.parquet.num_row_groups).toBeGreaterThan(1);
      expect(await collect(readParquetDocuments(fixture('texts.parquet'), 'text'))).toEqual(
        expected.parquet.text,
      );
      await expect(collect(readParquetDocuments(fixture('texts.parquet'), 'id'))).rejects.toMatchObject({
        code: 'column-type',
      });
    },
  );

  it.skipIf(!has('expected.json', 'texts.arrow'))(`Arrow IPC text column [${missing}]`, async () => {
    expect(await collect(readArrowDocuments(fixture('texts.arrow'), 'text'))).toEqual(
      expected.texts_arrow.text,
    );
  });

  it.skipIf(!has('expected.json', 'tokens.arrow', 'tokens.arrows'))(
    `List<uint16> token shards, IPC file and stream [${missing}]`,
    async () => {
      for (const name of ['tokens.arrow', 'tokens.arrows']) {
        const shard = await readTokenShard(fixture(name), { vocabSize: 65_536 });
        expect(shard.tokenType).toBe('uint16');
        expect(shard.chunks).toHaveLength(expected.tokens.record_batches.length);
        expect(docsOf(shard)).toEqual(expected.tokens.documents);
      }
      // Vocabulary checks apply to foreign shards too: 65535 is document 2.
      await expect(readTokenShard(fixture('tokens.arrow'), { vocabSize: 60_000 })).rejects.toMatchObject({
        code: 'token-range',
        record: 2,
      });
    },
  );

  it.skipIf(!has('expected.json', 'tokens_lz4.feather'))(
    `Feather v2 with LZ4 compression (pyarrow's default) [${missing}]`,
    async () => {
      expect(docsOf(await readTokenShard(fixture('tokens_lz4.feather')))).toEqual(expected.tokens.documents);
    },
  );

  it.skipIf(!has('texts.parquet', 'texts.arrow'))(
    `ingests pyarrow Parquet and Arrow end to end [${missing}]`,
    async () => {
      const dir = await tempDir();
      const tok = new ByteLevelTokenizer();
      const { manifest } = await ingest({
        inputs: [fixture('texts.parquet'), fixture('texts.arrow')],
        outDir: dir,
        tokenizer: tok,
      });
      const nonEmpty = (expected.parquet.text as string[]).filter((t) => t.length > 0);
      expect(manifest.documents).toBe(2 * nonEmpty.length);
      expect(manifest.skippedDocuments).toBe(2 * (expected.parquet.text.length - nonEmpty.length));
      const corpus = await openTokenCorpus(dir);
      const texts = docsOf(corpus.shards[0]!).map((ids) => tok.decode(ids));
      expect(texts).toEqual([...nonEmpty, ...nonEmpty]);
    },
  );
});

describe('pyarrow reading what we wrote', () => {
  it.skipIf(!has('dynconv_written.json', 'dynconv_uint16.arrow', 'dynconv_uint32.arrow'))(
    'our writer still produces the exact bytes pyarrow read back, and pyarrow saw the right documents',
    async () => {
      const spec = JSON.parse(await readFile(fixture('dynconv_written.json'), 'utf8')) as Record<
        'uint16' | 'uint32',
        { recordBatchTokens: number; docs: number[][] }
      >;
      for (const type of ['uint16', 'uint32'] as const) {
        const name = `dynconv_${type}.arrow`;
        const builder = new TokenShardBuilder({
          tokenType: type,
          recordBatchTokens: spec[type].recordBatchTokens,
        });
        for (const d of spec[type].docs) builder.add(d);
        const bytes = builder.finish().bytes;
        // Byte-identical to the file pyarrow validated: the pyarrow evidence below applies to this writer.
        expect(
          Buffer.from(bytes).equals(await readFile(fixture(name))),
          `${name} differs from the writer's output`,
        ).toBe(true);
        if (expected?.pyarrow_read_dynconv?.[name] === undefined) continue;
        const seen = expected.pyarrow_read_dynconv[name];
        expect(seen.value_type).toBe(type);
        expect(seen.documents).toEqual(spec[type].docs);
        expect(seen.num_record_batches).toBeGreaterThan(1);
        expect(seen.metadata).toEqual({ 'dynconv.format': 'tokens-v1' });
      }
      expect(Object.keys(expected?.pyarrow_read_dynconv ?? {})).toHaveLength(2);
    },
  );
});

describe('LZ4 frame decoder', () => {
  it('decodes literals, overlapping matches and uncompressed blocks; rejects bad offsets', () => {
    const header = [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82];
    // Block 1: literal "ab", then a match of 10 at offset 2 (overlapping), then literal "Z".
    const block = [0x26, 0x61, 0x62, 0x02, 0x00, 0x10, 0x5a];
    const raw = [...Buffer.from('xyz')];
    const frame = Uint8Array.from([
      ...header,
      block.length,
      0,
      0,
      0,
      ...block,
      raw.length,
      0,
      0,
      0x80,
      ...raw,
      0,
      0,
      0,
      0,
    ]);
    expect(Buffer.from(decodeLz4Frame(frame)).toString()).toBe('ab' + 'ababababab' + 'Z' + 'xyz');
    const bad = Uint8Array.from([...header, 5, 0, 0, 0, 0x10, 0x61, 0x09, 0x00, 0x00, 0, 0, 0, 0]);
    expect(() => decodeLz4Frame(bad)).toThrow(/offset 9/);
    expect(() => decodeLz4Frame(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toThrow(/magic/);
  });
});
