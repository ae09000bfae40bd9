import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  ByteLevelTokenizer,
  DataError,
  ingest,
  MANIFEST_FILE,
  openTokenCorpus,
  type Tokenizer,
} from '../src/index.js';
import { listDir, Rng, randomText, tempDir } from './helpers.js';

const byteLevel = new ByteLevelTokenizer();

/** Runs `fn`, expecting a DataError; returns it. */
async function dataError(fn: () => Promise<unknown>): Promise<DataError> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

/** A corpus folder with several shards. */
async function makeCorpus(dir: string) {
  const input = join(dir, 'in.txt');
  const rng = new Rng(31);
  await writeFile(input, Array.from({ length: 80 }, () => randomText(rng, 1 + rng.nextInt(40))).join('\n'));
  const out = join(dir, 'corpus');
  const { manifest } = await ingest({
    inputs: [input],
    outDir: out,
    tokenizer: byteLevel,
    textSplit: 'line',
    maxShardTokens: 500,
  });
  return { input, out, manifest };
}

describe('bad shards behind a manifest', () => {
  it('missing shard: DataError missing naming it', async () => {
    const { out, manifest } = await makeCorpus(await tempDir());
    const victim = join(out, manifest.shards[1]!.file);
    await rm(victim);
    const err = await dataError(() => openTokenCorpus(out));
    expect(err).toMatchObject({ code: 'missing', file: victim });
  });

  it('truncated shard: checksum mismatch naming the file', async () => {
    const { out, manifest } = await makeCorpus(await tempDir());
    const victim = join(out, manifest.shards[2]!.file);
    const bytes = await readFile(victim);
    await writeFile(victim, bytes.subarray(0, bytes.length - 37));
    const err = await dataError(() => openTokenCorpus(out));
    expect(err).toMatchObject({ code: 'checksum', file: victim });
    expect(err.message).toContain(manifest.shards[2]!.sha256);
  });

  it('corrupt (same size, one byte changed) shard: checksum mismatch', async () => {
    const { out, manifest } = await makeCorpus(await tempDir());
    const victim = join(out, manifest.shards[0]!.file);
    const bytes = await readFile(victim);
    bytes[bytes.length - 200]! ^= 1;
    await writeFile(victim, bytes);
    expect(await dataError(() => openTokenCorpus(out))).toMatchObject({ code: 'checksum', file: victim });
  });

  it('manifest whose vocabulary is smaller than the ids: token-range with the document', async () => {
    const { out } = await makeCorpus(await tempDir());
    const path = join(out, MANIFEST_FILE);
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    manifest.tokenizer.vocabSize = 100; // random text has bytes >= 100
    await writeFile(path, JSON.stringify(manifest));
    const err = await dataError(() => openTokenCorpus(out));
    expect(err.code).toBe('token-range');
    expect(err.file).toContain('shard-00000');
    expect(err.record).toBeTypeOf('number');
  });

  it('inconsistent or unparsable manifest: DataError manifest', async () => {
    const { out } = await makeCorpus(await tempDir());
    const path = join(out, MANIFEST_FILE);
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...manifest, tokens: manifest.tokens + 1 }));
    expect(await dataError(() => openTokenCorpus(out))).toMatchObject({ code: 'manifest', file: path });
    await writeFile(
      path,
      JSON.stringify({ ...manifest, shards: [{ ...manifest.shards[0], file: '../escape.arrow' }] }),
    );
    expect(await dataError(() => openTokenCorpus(out))).toMatchObject({ code: 'manifest' });
    await writeFile(path, '{"format": "dynconv.tokens", ');
    expect(await dataError(() => openTokenCorpus(out))).toMatchObject({ code: 'manifest', file: path });
    await rm(path);
    expect(await dataError(() => openTokenCorpus(out))).toMatchObject({ code: 'missing', file: path });
  });
});

describe('bad ingestion inputs leave nothing behind', () => {
  it('invalid JSON at a record: names file, record and byte offset; previous output stays intact', async () => {
    const dir = await tempDir();
    const { out } = await makeCorpus(dir);
    const before = await listDir(out);
    const beforeManifest = await readFile(join(out, MANIFEST_FILE), 'utf8');

    const bad = join(dir, 'bad.jsonl');
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ text: `document ${i} ${'x'.repeat(i)}` }),
    );
    lines[57] = '{"text": "unterminated';
    await writeFile(bad, lines.join('\n'));
    const good = join(dir, 'good.jsonl');
    await writeFile(good, lines.slice(0, 50).join('\n'));
    const err = await dataError(() =>
      ingest({ inputs: [good, bad], outDir: out, tokenizer: byteLevel, maxShardTokens: 200 }),
    );
    expect(err).toMatchObject({ code: 'bad-input', file: bad, record: 57 });
    expect(err.offset).toBe(lines.slice(0, 57).reduce((s, l) => s + Buffer.byteLength(l) + 1, 0));
    expect(err.message).toContain('bad.jsonl');
    expect(await listDir(out)).toEqual(before);
    expect(await readFile(join(out, MANIFEST_FILE), 'utf8')).toBe(beforeManifest);
    await openTokenCorpus(out); // still valid
  });

  it('first ingestion failing midway leaves an empty output folder', async () => {
    const dir = await tempDir();
    const bad = join(dir, 'bad.jsonl');
    await writeFile(
      bad,
      [...Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `doc ${i}` })), '[1, 2]'].join('\n'),
    );
    const out = join(dir, 'out');
    const err = await dataError(() =>
      ingest({ inputs: [bad], outDir: out, tokenizer: byteLevel, maxShardTokens: 20 }),
    );
    expect(err).toMatchObject({ code: 'bad-input', file: bad, record: 30 });
    expect(await listDir(out)).toEqual([]);
  });

  it('wrong field type in JSONL and wrong column type in Parquet', async () => {
    const dir = await tempDir();
    const jsonl = join(dir, 'typed.jsonl');
    await writeFile(jsonl, '{"text": "ok"}\n{"text": 42}\n');
    expect(
      await dataError(() => ingest({ inputs: [jsonl], outDir: join(dir, 'a'), tokenizer: byteLevel })),
    ).toMatchObject({
      code: 'column-type',
      file: jsonl,
      record: 1,
      offset: 15,
    });
    const missing = join(dir, 'nofield.jsonl');
    await writeFile(missing, '{"body": "x"}\n');
    expect(
      await dataError(() => ingest({ inputs: [missing], outDir: join(dir, 'b'), tokenizer: byteLevel })),
    ).toMatchObject({
      code: 'column-missing',
      record: 0,
    });
    const pq = join(dir, 'ints.parquet');
    await writeFile(
      pq,
      new Uint8Array(
        parquetWriteBuffer({ columnData: [{ name: 'text', data: Int32Array.of(1, 2, 3), type: 'INT32' }] }),
      ),
    );
    const err = await dataError(() => ingest({ inputs: [pq], outDir: join(dir, 'c'), tokenizer: byteLevel }));
    expect(err).toMatchObject({ code: 'column-type', file: pq });
    expect(err.message).toContain('INT32');
    expect(await listDir(join(dir, 'c'))).toEqual([]);
  });

  it('truncated or corrupt Parquet / Arrow inputs: DataError naming the file', async () => {
    const dir = await tempDir();
    const pq = join(dir, 't.parquet');
    const bytes = new Uint8Array(
      parquetWriteBuffer({ columnData: [{ name: 'text', data: ['a', 'b', 'c'], type: 'STRING' }] }),
    );
    await writeFile(pq, bytes.subarray(0, bytes.length - 9));
    const err = await dataError(() =>
      ingest({ inputs: [pq], outDir: join(dir, 'o1'), tokenizer: byteLevel }),
    );
    expect(['truncated', 'corrupt']).toContain(err.code);
    expect(err.file).toBe(pq);
    const table = tableToIPC(
      new Table({ text: vectorFromArray(['alpha', 'beta', 'gamma', 'delta'], new Utf8()) }),
      'file',
    );
    for (const cut of [table.length - 3, Math.floor(table.length / 2), 9]) {
      const truncated = join(dir, `cut-${cut}.arrow`);
      await writeFile(truncated, table.subarray(0, cut));
      const e = await dataError(() =>
        ingest({ inputs: [truncated], outDir: join(dir, `o-${cut}`), tokenizer: byteLevel }),
      );
      expect(e).toMatchObject({ code: 'corrupt', file: truncated });
      expect(await listDir(join(dir, `o-${cut}`))).toEqual([]);
    }
    const arrow = join(dir, 'x.arrow');
    await writeFile(arrow, Buffer.from('ARROW1\0\0this is not arrow at all'));
    expect(
      await dataError(() => ingest({ inputs: [arrow], outDir: join(dir, 'o2'), tokenizer: byteLevel })),
    ).toMatchObject({
      code: 'corrupt',
      file: arrow,
    });
  });

  it('invalid UTF-8 in plain text: byte offset of the bad sequence', async () => {
    const dir = await tempDir();
    const input = join(dir, 'bad.txt');
    await writeFile(
      input,
      Buffer.concat([Buffer.from('fine line\nsecond '), Buffer.from([0xc3, 0x28]), Buffer.from(' rest\n')]),
    );
    const err = await dataError(() =>
      ingest({ inputs: [input], outDir: join(dir, 'o'), tokenizer: byteLevel, textSplit: 'line' }),
    );
    expect(err).toMatchObject({ code: 'bad-input', file: input, record: 1, offset: 17 });
  });

  it('empty corpus: DataError empty-corpus and no output', async () => {
    const dir = await tempDir();
    const input = join(dir, 'empty.txt');
    await writeFile(input, '\n\n   \n\n');
    const jsonl = join(dir, 'nulls.jsonl');
    await writeFile(jsonl, '{"text": null}\n{"text": ""}\n');
    const out = join(dir, 'o');
    const err = await dataError(() =>
      ingest({ inputs: [input, jsonl], outDir: out, tokenizer: byteLevel, textSplit: 'paragraph' }),
    );
    expect(err).toMatchObject({ code: 'empty-corpus', file: input });
    expect(err.message).toContain('nulls.jsonl');
    expect(await listDir(out)).toEqual([]);
    const zero = join(dir, 'zero.txt');
    await writeFile(zero, '');
    expect(
      await dataError(() => ingest({ inputs: [zero], outDir: out, tokenizer: byteLevel })),
    ).toMatchObject({ code: 'empty-corpus' });
  });

  it('missing input file and unknown format', async () => {
    const dir = await tempDir();
    expect(
      await dataError(() =>
        ingest({ inputs: [join(dir, 'nope.txt')], outDir: join(dir, 'o'), tokenizer: byteLevel }),
      ),
    ).toMatchObject({
      code: 'missing',
      file: join(dir, 'nope.txt'),
    });
    expect(
      await dataError(() =>
        ingest({ inputs: [join(dir, 'data.bin')], outDir: join(dir, 'o'), tokenizer: byteLevel }),
      ),
    ).toMatchObject({
      code: 'bad-input',
    });
  });

  it('a tokenizer emitting ids at or above its vocabulary size: token-range naming input and record', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.jsonl');
    await writeFile(input, ['{"text":"ok"}', '{"text":"fine"}', '{"text":"has a Z"}'].join('\n'));
    // A real (if buggy) tokenizer: bytes, but 'Z' maps to id 200 while it claims 128 ids.
    const buggy: Tokenizer = {
      id: 'buggy',
      hash: 'b'.repeat(64),
      vocabSize: 128,
      encode: (text) => Uint16Array.from(Buffer.from(text), (b) => (b === 90 ? 200 : b)),
      decode: (ids) => Buffer.from(Array.from(ids)).toString(),
    };
    const out = join(dir, 'o');
    expect(await dataError(() => ingest({ inputs: [input], outDir: out, tokenizer: buggy }))).toMatchObject({
      code: 'token-range',
      file: input,
      record: 2,
    });
    expect(await listDir(out)).toEqual([]);
  });

  it('removes temporaries left by a crashed run, keeps other files', async () => {
    const dir = await tempDir();
    const out = join(dir, 'o');
    const input = join(dir, 'in.txt');
    await writeFile(input, 'some text');
    await ingest({ inputs: [input], outDir: out, tokenizer: byteLevel });
    await mkdir(join(out, '.tmp-ingest-2147483646-deadbeef')); // no such process
    await writeFile(join(out, '.tmp-ingest-2147483646-deadbeef', 'shard-00000-aaaaaaaaaaaa.arrow'), 'half');
    await writeFile(join(out, `.tmp-manifest.json-${process.pid}-cafe`), 'in flight in this process');
    await writeFile(input, 'other text');
    await ingest({ inputs: [input], outDir: out, tokenizer: byteLevel });
    const names = await listDir(out);
    expect(names).not.toContain('.tmp-ingest-2147483646-deadbeef');
    expect(names).toContain(`.tmp-manifest.json-${process.pid}-cafe`);
  });
});
