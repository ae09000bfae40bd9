import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Dictionary,
  Int32,
  RecordBatchStreamWriter,
  Table,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  ByteLevelTokenizer,
  ingest,
  openTokenCorpus,
  type TokenCorpus,
  trainByteLevelBpe,
} from '../src/index.js';
import { listDir, Rng, randomProse, randomText, tempDir } from './helpers.js';

const byteLevel = new ByteLevelTokenizer();

/** All documents of a corpus, decoded with `decode`. */
const corpusTexts = (corpus: TokenCorpus, decode: (ids: ArrayLike<number>) => string): string[] =>
  corpus.shards.flatMap((s) =>
    s.chunks.flatMap((c) =>
      Array.from({ length: c.offsets.length - 1 }, (_, d) =>
        decode(c.tokens.subarray(c.offsets[d]!, c.offsets[d + 1]!)),
      ),
    ),
  );

describe('ingest', () => {
  it('plain text: whole file, lines and paragraphs', async () => {
    const dir = await tempDir();
    const rng = new Rng(21);
    const paragraphs = Array.from({ length: 25 }, () =>
      Array.from({ length: 1 + rng.nextInt(4) }, () =>
        randomText(rng, 1 + rng.nextInt(80))
          .replace(/\s+$/, 'x')
          .replace(/^\s+/, 'y'),
      ).join('\n'),
    );
    const text = `\n\n${paragraphs.join('\n\n  \n')}\n`;
    const input = join(dir, 'in.txt');
    await writeFile(input, text);

    await ingest({ inputs: [input], outDir: join(dir, 'a'), tokenizer: byteLevel });
    const whole = await openTokenCorpus(join(dir, 'a'));
    expect(corpusTexts(whole, (ids) => byteLevel.decode(ids))).toEqual([text]);

    await ingest({ inputs: [input], outDir: join(dir, 'b'), tokenizer: byteLevel, textSplit: 'line' });
    const lines = text.split('\n').filter((l) => l.length > 0);
    expect(corpusTexts(await openTokenCorpus(join(dir, 'b')), (ids) => byteLevel.decode(ids))).toEqual(lines);

    const { manifest } = await ingest({
      inputs: [{ path: input, textSplit: 'paragraph' }],
      outDir: join(dir, 'c'),
      tokenizer: byteLevel,
    });
    expect(corpusTexts(await openTokenCorpus(join(dir, 'c')), (ids) => byteLevel.decode(ids))).toEqual(
      paragraphs,
    );
    expect(manifest.documents).toBe(paragraphs.length);
    expect(manifest.tokens).toBe(paragraphs.reduce((s, p) => s + Buffer.byteLength(p), 0));
    expect(manifest.tokenizer).toEqual({ id: 'byte-level', hash: byteLevel.hash, vocabSize: 256 });
    expect(manifest.tokenType).toBe('uint16');
    expect(manifest.sources).toHaveLength(1);
  });

  it('JSONL with a configurable field; null and empty documents are skipped and counted', async () => {
    const dir = await tempDir();
    const rng = new Rng(22);
    const docs = Array.from({ length: 200 }, (_, i) =>
      i % 17 === 0 ? null : i % 23 === 0 ? '' : randomText(rng, rng.nextInt(120), { newlines: true }),
    );
    const input = join(dir, 'in.jsonl');
    await writeFile(input, `${docs.map((d, i) => JSON.stringify({ id: i, body: d })).join('\r\n')}\n\n`);
    const { manifest } = await ingest({
      inputs: [input],
      outDir: join(dir, 'out'),
      tokenizer: byteLevel,
      field: 'body',
    });
    const kept = docs.filter((d): d is string => d !== null && d.length > 0);
    expect(manifest.documents).toBe(kept.length);
    expect(manifest.skippedDocuments).toBe(docs.length - kept.length);
    expect(corpusTexts(await openTokenCorpus(join(dir, 'out')), (ids) => byteLevel.decode(ids))).toEqual(
      kept,
    );
  });

  it('Parquet (snappy, several row groups, nulls) and Arrow IPC file + stream', async () => {
    const dir = await tempDir();
    const rng = new Rng(23);
    const docs = Array.from({ length: 333 }, (_, i) =>
      i % 50 === 7 ? null : randomText(rng, 1 + rng.nextInt(90)),
    );
    const pq = join(dir, 'in.parquet');
    await writeFile(
      pq,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'n', data: Int32Array.from(docs, (_, i) => i), type: 'INT32' },
            { name: 'content', data: docs, type: 'STRING' },
          ],
          rowGroupSize: 100,
        }),
      ),
    );
    const arrowFile = join(dir, 'in.arrow');
    const table = new Table({ content: vectorFromArray(docs, new Utf8()) });
    await writeFile(arrowFile, tableToIPC(table, 'file'));
    const arrowStream = join(dir, 'in.arrows');
    await writeFile(arrowStream, RecordBatchStreamWriter.writeAll(table.batches).toUint8Array(true));
    const arrowDict = join(dir, 'dict.feather');
    await writeFile(
      arrowDict,
      tableToIPC(
        new Table({ content: vectorFromArray(docs, new Dictionary(new Utf8(), new Int32())) }),
        'file',
      ),
    );

    const kept = docs.filter((d): d is string => d !== null);
    for (const [name, input] of [
      ['pq', pq],
      ['file', arrowFile],
      ['stream', arrowStream],
      ['dictionary', arrowDict],
    ] as const) {
      const { manifest } = await ingest({
        inputs: [input],
        outDir: join(dir, name),
        tokenizer: byteLevel,
        field: 'content',
      });
      expect(manifest.documents, name).toBe(kept.length);
      expect(manifest.skippedDocuments, name).toBe(docs.length - kept.length);
      expect(
        corpusTexts(await openTokenCorpus(join(dir, name)), (ids) => byteLevel.decode(ids)),
        name,
      ).toEqual(kept);
    }
  });

  it('bounds shard size and splits documents across shards without loss', async () => {
    const dir = await tempDir();
    const rng = new Rng(24);
    const docs = Array.from({ length: 120 }, () => randomText(rng, 1 + rng.nextInt(70)));
    docs.push('z'.repeat(500)); // longer than a shard: gets its own
    const input = join(dir, 'in.txt');
    await writeFile(input, docs.join('\n'));
    const { manifest } = await ingest({
      inputs: [input],
      outDir: join(dir, 'o'),
      tokenizer: byteLevel,
      textSplit: 'line',
      maxShardTokens: 300,
      recordBatchTokens: 64,
    });
    expect(manifest.shards.length).toBeGreaterThan(5);
    for (const s of manifest.shards) expect(s.tokens <= 300 || s.documents === 1).toBe(true);
    expect(manifest.shards.at(-1)).toMatchObject({ documents: 1, tokens: 500 });
    const corpus = await openTokenCorpus(join(dir, 'o'));
    expect(corpusTexts(corpus, (ids) => byteLevel.decode(ids))).toEqual(docs);
    expect(corpus.shards.some((s) => s.chunks.length > 1)).toBe(true);
  });

  it('uses a trained BPE and records its identity', async () => {
    const dir = await tempDir();
    const rng = new Rng(25);
    const docs = Array.from({ length: 50 }, () => randomProse(rng, 40));
    const bpe = await trainByteLevelBpe(docs, { vocabSize: 290 });
    const input = join(dir, 'in.jsonl');
    await writeFile(input, docs.map((text) => JSON.stringify({ text })).join('\n'));
    const { manifest } = await ingest({ inputs: [input], outDir: join(dir, 'o'), tokenizer: bpe });
    expect(manifest.tokenizer).toEqual({ id: bpe.id, hash: bpe.hash, vocabSize: 290 });
    expect(manifest.tokens).toBe(docs.reduce((s, d) => s + bpe.encode(d).length, 0));
    expect(corpusTexts(await openTokenCorpus(join(dir, 'o')), (ids) => bpe.decode(ids))).toEqual(docs);
  });

  it('is idempotent: a re-run reuses intact output, force rewrites identical bytes, changed input replaces shards', async () => {
    const dir = await tempDir();
    const out = join(dir, 'o');
    const input = join(dir, 'in.txt');
    const rng = new Rng(26);
    await writeFile(input, Array.from({ length: 60 }, () => randomText(rng, 1 + rng.nextInt(50))).join('\n'));
    const opts = {
      inputs: [input],
      outDir: out,
      tokenizer: byteLevel,
      textSplit: 'line' as const,
      maxShardTokens: 400,
    };
    const first = await ingest(opts);
    expect(first.reused).toBe(false);
    const files = await listDir(out);
    const mtimes = await Promise.all(files.map(async (f) => (await stat(join(out, f))).mtimeMs));
    const bytes = await Promise.all(files.map((f) => readFile(join(out, f))));

    const second = await ingest(opts);
    expect(second.reused).toBe(true);
    expect(second.manifest).toEqual(first.manifest);
    expect(await listDir(out)).toEqual(files);
    expect(await Promise.all(files.map(async (f) => (await stat(join(out, f))).mtimeMs))).toEqual(mtimes);

    const forced = await ingest({ ...opts, force: true });
    expect(forced.reused).toBe(false);
    expect(await listDir(out)).toEqual(files);
    const again = await Promise.all(files.map((f) => readFile(join(out, f))));
    for (const [i, b] of again.entries()) expect(b.equals(bytes[i]!), files[i]).toBe(true);

    // An orphan shard, as a crash between moving shards in and replacing the manifest leaves.
    await writeFile(join(out, 'shard-00007-0123456789ab.arrow'), 'orphan');
    await writeFile(join(out, 'notes.txt'), 'not ours to delete');
    await writeFile(input, 'a completely different corpus\nof two lines');
    const third = await ingest(opts);
    expect(third.reused).toBe(false);
    expect(third.manifest.documents).toBe(2);
    expect(await listDir(out)).toEqual(
      ['manifest.json', 'notes.txt', ...third.manifest.shards.map((s) => s.file)].sort(),
    );
  });

  it('rewrites when an existing shard was damaged', async () => {
    const dir = await tempDir();
    const out = join(dir, 'o');
    const input = join(dir, 'in.txt');
    await writeFile(input, 'one\ntwo\nthree');
    const first = await ingest({ inputs: [input], outDir: out, tokenizer: byteLevel, textSplit: 'line' });
    const shard = join(out, first.manifest.shards[0]!.file);
    await writeFile(shard, 'damaged');
    const second = await ingest({ inputs: [input], outDir: out, tokenizer: byteLevel, textSplit: 'line' });
    expect(second.reused).toBe(false);
    expect((await openTokenCorpus(out)).documents).toBe(3);
  });
});
