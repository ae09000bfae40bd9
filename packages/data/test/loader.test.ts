import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Batch,
  BatchLoader,
  ByteLevelTokenizer,
  CursorMismatchError,
  ingest,
  type LoaderCursor,
  openTokenCorpus,
  PackedSequenceSource,
  prefetch,
  type TokenChunk,
} from '../src/index.js';
import { Rng, randomText, tempDir } from './helpers.js';

/**
 * Documents whose tokens name themselves: token = doc * 1000 + position, so every token in a
 * batch says which document and offset it came from. Some documents are empty.
 */
function selfDescribingChunks(
  rng: Rng,
  docs: number,
  maxLength: number,
  chunkDocs: number,
): { chunks: TokenChunk[]; lengths: number[] } {
  const lengths = Array.from({ length: docs }, () => (rng.nextInt(9) === 0 ? 0 : 1 + rng.nextInt(maxLength)));
  const chunks: TokenChunk[] = [];
  for (let c = 0; c < docs; c += chunkDocs) {
    const ids = lengths.slice(c, c + chunkDocs);
    const offsets = new Int32Array(ids.length + 1);
    ids.forEach((l, i) => {
      offsets[i + 1] = offsets[i]! + l;
    });
    const tokens = new Uint32Array(offsets[ids.length]! + 3); // slack after the data, as in padded IPC buffers
    ids.forEach((l, i) => {
      for (let p = 0; p < l; p++) tokens[offsets[i]! + p] = (c + i) * 1000 + p;
    });
    tokens.fill(999_999, offsets[ids.length]!);
    chunks.push({ tokens, offsets });
  }
  return { chunks, lengths };
}

/** Checks one row against the self-describing encoding; returns the (doc, pos) keys it covers. */
function checkRow(batch: Batch, b: number, lengths: number[]): number[] {
  const T = batch.seqLen;
  const keys: number[] = [];
  for (let t = 0; t < T; t++) {
    const i = b * T + t;
    const tok = batch.inputs[i]!;
    const doc = Math.floor(tok / 1000);
    const pos = tok % 1000;
    keys.push(tok);
    expect(pos).toBeLessThan(lengths[doc]!);
    const start = batch.docStart[i]!;
    expect(batch.positions[i]).toBe(t - start);
    if (t === start) {
      // A segment starts at a document start, or at the row start mid-document.
      expect(t === 0 || pos === 0).toBe(true);
    } else {
      const prev = batch.inputs[i - 1]!;
      expect(prev).toBe(tok - 1);
      expect(batch.docStart[i - 1]).toBe(start);
    }
    const last = pos + 1 === lengths[doc];
    expect(batch.targets[i]).toBe(last ? -100 : tok + 1);
    if (t + 1 < T && !last) expect(batch.inputs[i + 1]).toBe(tok + 1);
    if (t + 1 < T && last) expect(batch.docStart[i + 1]).toBe(t + 1);
  }
  return keys;
}

describe('PackedSequenceSource + BatchLoader', () => {
  it('without shuffling, packs the concatenated documents window by window', () => {
    const rng = new Rng(41);
    const { chunks, lengths } = selfDescribingChunks(rng, 200, 60, 17);
    const T = 37;
    const source = new PackedSequenceSource(chunks, { seqLen: T });
    const stream = lengths.flatMap((l, d) => Array.from({ length: l }, (_, p) => d * 1000 + p));
    expect(source.length).toBe(Math.floor(stream.length / T));
    const loader = new BatchLoader(source, { batchSize: 3, shuffle: false, epochs: 1 });
    let k = 0;
    for (let batch = loader.next(); batch; batch = loader.next()) {
      expect(batch.inputs.length).toBe(3 * T);
      for (let b = 0; b < 3; b++, k++) {
        expect(Array.from(batch.inputs.subarray(b * T, (b + 1) * T))).toEqual(
          stream.slice(k * T, (k + 1) * T),
        );
        checkRow(batch, b, lengths);
      }
    }
    expect(k).toBe(Math.floor(source.length / 3) * 3);
  });

  it('with shuffling, each epoch covers distinct tokens exactly once and epochs differ', () => {
    const rng = new Rng(42);
    const { chunks, lengths } = selfDescribingChunks(rng, 150, 90, 40);
    const T = 29;
    const source = new PackedSequenceSource(chunks, { seqLen: T });
    const loader = new BatchLoader(source, { batchSize: 4, seed: 7, dropLast: false, epochs: 2 });
    const epochs: number[][] = [[], []];
    const firstRows: number[][] = [];
    for (let batch = loader.next(); batch; batch = loader.next()) {
      for (let b = 0; b < 4; b++) {
        if (batch.step * 4 + b >= source.length) {
          expect(Array.from(batch.targets.subarray(b * T, (b + 1) * T)).every((x) => x === -100)).toBe(true);
          continue;
        }
        const keys = checkRow(batch, b, lengths);
        epochs[batch.epoch]!.push(...keys);
        if (batch.step === 0 && b === 0) firstRows.push(keys);
      }
    }
    for (const seen of epochs) {
      expect(seen.length).toBe(source.length * T);
      expect(new Set(seen).size).toBe(seen.length);
    }
    expect(firstRows[0]).not.toEqual(firstRows[1]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const { chunks } = selfDescribingChunks(new Rng(43), 80, 50, 80);
    const source = new PackedSequenceSource(chunks, { seqLen: 16 });
    const run = (seed: number) => new BatchLoader(source, { batchSize: 5, seed }).next()!.inputs;
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it('shards across ranks: disjoint rows whose union is the global batch', () => {
    const { chunks } = selfDescribingChunks(new Rng(44), 120, 40, 50);
    const source = new PackedSequenceSource(chunks, { seqLen: 11 });
    const world = 3;
    const single = new BatchLoader(source, { batchSize: 2 * world, seed: 5 });
    const ranks = Array.from(
      { length: world },
      (_, rank) => new BatchLoader(source, { batchSize: 2, seed: 5, rank, worldSize: world }),
    );
    expect(ranks[0]!.batchesPerEpoch).toBe(single.batchesPerEpoch);
    for (let step = 0; step < single.batchesPerEpoch + 2; step++) {
      const global = single.next()!;
      const parts = ranks.map((r) => r.next()!);
      const joined = new Int32Array(global.inputs.length);
      for (const [i, p] of parts.entries()) joined.set(p.inputs, i * p.inputs.length);
      expect(joined).toEqual(global.inputs);
      const rows = parts.flatMap((p) =>
        [0, 1].map((b) => Array.from(p.inputs.subarray(b * 11, (b + 1) * 11)).join()),
      );
      expect(new Set(rows).size).toBe(rows.length);
    }
  });

  it('resumes exactly from a JSON-serialised cursor, across epoch boundaries and ranks', async () => {
    const { chunks } = selfDescribingChunks(new Rng(45), 60, 40, 25);
    const source = new PackedSequenceSource(chunks, { seqLen: 13 });
    const opts = { batchSize: 3, seed: 11, worldSize: 2 };
    const reference = new BatchLoader(source, { ...opts, rank: 1 });
    const perEpoch = reference.batchesPerEpoch;
    const all: Batch[] = Array.from({ length: 3 * perEpoch + 2 }, () => reference.next()!);
    const rng = new Rng(46);
    const stops = [
      0,
      perEpoch - 1,
      perEpoch,
      2 * perEpoch - 1,
      ...Array.from({ length: 5 }, () => rng.nextInt(all.length - 2)),
    ];
    for (const stop of stops) {
      const cursor = JSON.parse(JSON.stringify(all[stop]!.cursor)) as LoaderCursor;
      const resumed = new BatchLoader(source, { ...opts, rank: 1, resume: cursor });
      for (let k = stop + 1; k < Math.min(all.length, stop + 4); k++) {
        const batch = resumed.next()!;
        expect([batch.epoch, batch.step]).toEqual([all[k]!.epoch, all[k]!.step]);
        expect(batch.inputs).toEqual(all[k]!.inputs);
        expect(batch.targets).toEqual(all[k]!.targets);
        expect(batch.docStart).toEqual(all[k]!.docStart);
      }
    }
    // Rank 0's cursor resumes rank 1 at the same point.
    const rank0 = new BatchLoader(source, { ...opts, rank: 0 });
    for (let i = 0; i < 4; i++) rank0.next();
    const fromRank0 = new BatchLoader(source, { ...opts, rank: 1, resume: rank0.cursor });
    expect(fromRank0.next()!.inputs).toEqual(all[4]!.inputs);
    // The async (prefetching) iterator resumes identically.
    const viaAsync: Int32Array[] = [];
    for await (const b of new BatchLoader(source, {
      ...opts,
      rank: 1,
      resume: all[5]!.cursor,
      prefetch: 3,
    })) {
      viaAsync.push(b.inputs);
      if (viaAsync.length === 3) break;
    }
    expect(viaAsync).toEqual([all[6]!.inputs, all[7]!.inputs, all[8]!.inputs]);
  });

  it('refuses a cursor from a different configuration', () => {
    const { chunks } = selfDescribingChunks(new Rng(47), 60, 40, 60);
    const source = new PackedSequenceSource(chunks, { seqLen: 8 });
    const cursor = new BatchLoader(source, { batchSize: 2, seed: 1 }).next()!.cursor;
    // Same shape, different tokens: a different corpus.
    const altered = chunks.map((c) => ({ tokens: c.tokens.map((x) => x + 1), offsets: c.offsets }));
    expect(
      () =>
        new BatchLoader(new PackedSequenceSource(altered, { seqLen: 8 }), {
          batchSize: 2,
          seed: 1,
          resume: cursor,
        }),
    ).toThrow(/source/);
    expect(
      new BatchLoader(new PackedSequenceSource(chunks, { seqLen: 8 }), {
        batchSize: 2,
        seed: 1,
        resume: cursor,
      }).cursor,
    ).toEqual(cursor);
    expect(() => new BatchLoader(source, { batchSize: 2, seed: 2, resume: cursor })).toThrow(
      CursorMismatchError,
    );
    expect(() => new BatchLoader(source, { batchSize: 3, seed: 1, resume: cursor })).toThrow(/batchSize/);
    expect(() => new BatchLoader(source, { batchSize: 1, seed: 1, worldSize: 2, resume: cursor })).toThrow(
      /batchSize|worldSize/,
    );
    const other = new PackedSequenceSource(chunks, { seqLen: 9 });
    expect(() => new BatchLoader(other, { batchSize: 2, seed: 1, resume: cursor })).toThrow(
      CursorMismatchError,
    );
    expect(
      () => new BatchLoader(source, { batchSize: 2, seed: 1, resume: { ...cursor, batch: 10_000 } }),
    ).toThrow(/batch/);
  });

  it('splits documents into disjoint train and validation sets covering the corpus', () => {
    const { chunks, lengths } = selfDescribingChunks(new Rng(48), 300, 20, 64);
    const docsOf = (split: 'train' | 'validation') => {
      const source = new PackedSequenceSource(chunks, { seqLen: 1, split, validationFraction: 0.25 });
      const loader = new BatchLoader(source, { batchSize: 1, shuffle: false, epochs: 1 });
      const docs = new Set<number>();
      for (let b = loader.next(); b; b = loader.next()) docs.add(Math.floor(b.inputs[0]! / 1000));
      return docs;
    };
    const train = docsOf('train');
    const validation = docsOf('validation');
    const nonEmpty = lengths.flatMap((l, d) => (l > 0 ? [d] : []));
    expect([...train].filter((d) => validation.has(d))).toEqual([]);
    expect([...train, ...validation].sort((a, b) => a - b)).toEqual(nonEmpty);
    expect(validation.size / nonEmpty.length).toBeGreaterThan(0.12);
    expect(validation.size / nonEmpty.length).toBeLessThan(0.38);
  });

  it('reads an ingested corpus end to end', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    const rng = new Rng(49);
    const lines = Array.from({ length: 90 }, () => randomText(rng, 1 + rng.nextInt(60)));
    await writeFile(input, lines.join('\n'));
    const tok = new ByteLevelTokenizer();
    await ingest({
      inputs: [input],
      outDir: join(dir, 'c'),
      tokenizer: tok,
      textSplit: 'line',
      maxShardTokens: 700,
    });
    const corpus = await openTokenCorpus(join(dir, 'c'));
    const source = new PackedSequenceSource(corpus, { seqLen: 64 });
    const loader = new BatchLoader(source, { batchSize: 4, shuffle: false, epochs: 1 });
    const batch = loader.next()!;
    const expected = Buffer.from(lines.join(''), 'utf8').subarray(0, 64);
    expect(Array.from(batch.inputs.subarray(0, 64))).toEqual(Array.from(expected));
    const firstLen = Buffer.byteLength(lines[0]!);
    expect(batch.targets[firstLen - 1]).toBe(-100);
    expect(batch.docStart[firstLen]).toBe(firstLen);
  });

  it('rejects impossible configurations', () => {
    const { chunks } = selfDescribingChunks(new Rng(50), 5, 5, 5);
    expect(() => new PackedSequenceSource(chunks, { seqLen: 10_000 })).toThrow(RangeError);
    const source = new PackedSequenceSource(chunks, { seqLen: 1 });
    expect(() => new BatchLoader(source, { batchSize: 1000 })).toThrow(/fewer than one global batch/);
    expect(() => new BatchLoader(source, { batchSize: 1, rank: 2, worldSize: 2 })).toThrow(RangeError);
  });
});

describe('prefetch', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps a bounded number of items ready while the consumer is busy', async () => {
    let produced = 0;
    const it = prefetch(() => (produced < 100 ? ++produced : undefined), 3);
    // A "GPU step": the queue fills in the background (poll, so a loaded machine cannot flake this)...
    const settle = async (target: number) => {
      for (let waited = 0; produced < target && waited < 2000; waited += 5) await sleep(5);
      await sleep(20);
    };
    expect((await it.next()).value).toBe(1);
    await settle(1 + 3);
    expect(produced).toBe(1 + 3); // ...up to the depth, no further
    const before = produced;
    expect((await it.next()).value).toBe(2);
    expect(produced).toBe(before); // served from the queue: no inline production, no wait
    await settle(2 + 3);
    expect(produced).toBe(2 + 3);
    const rest: number[] = [];
    for await (const v of it) rest.push(v);
    expect(rest).toEqual(Array.from({ length: 98 }, (_, i) => i + 3));
  });

  it('delivers a producer error to the consumer after the items before it', async () => {
    let n = 0;
    const it = prefetch(() => {
      if (++n === 3) throw new Error('boom');
      return n;
    }, 4);
    expect((await it.next()).value).toBe(1);
    await sleep(5);
    expect((await it.next()).value).toBe(2);
    await expect(it.next()).rejects.toThrow('boom');
  });
});
