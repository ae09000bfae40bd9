/**
 * @dynconv/data benchmark (not a test): ingestion and loader throughput, prefetch wait.
 *
 *   pnpm --filter @dynconv/data bench [-- --corpus path/to/text.txt]
 *
 * Prints a table and writes bench-results/data.json. Single-threaded throughout (one core).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchLoader,
  ByteLevelBpeTokenizer,
  ByteLevelTokenizer,
  HuggingFaceTokenizer,
  ingest,
  MqarTask,
  openTokenCorpus,
  PackedSequenceSource,
  SyntheticSource,
  trainByteLevelBpe,
} from '../src/index.js';

const argCorpus = process.argv.indexOf('--corpus');
const CORPUS = argCorpus > 0 ? process.argv[argCorpus + 1]! : '/work/shared/data/tinyshakespeare.txt';
// pnpm runs package scripts in the package folder.
const OUT = join(process.cwd(), 'bench-results', 'data.json');

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rows: { name: string; value: number; unit: string; note?: string }[] = [];
const record = (name: string, value: number, unit: string, note?: string) => {
  rows.push(note === undefined ? { name, value, unit } : { name, value, unit, note });
  console.log(
    `${name.padEnd(44)} ${value.toLocaleString('en-US', { maximumFractionDigits: 2 }).padStart(16)} ${unit}${note ? `  (${note})` : ''}`,
  );
};

/** Best of `reps` timings of `fn` (ms). */
async function best(reps: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const t = now();
    await fn();
    min = Math.min(min, now() - t);
  }
  return min;
}

const work = await mkdtemp(join(tmpdir(), 'dynconv-bench-'));
try {
  const text = await readFile(CORPUS, 'utf8');
  console.log(
    `corpus ${CORPUS}: ${Buffer.byteLength(text).toLocaleString()} bytes; node ${process.version}; ${cpus()[0]?.model ?? '?'}\n`,
  );

  // Ingestion, byte-level.
  const byteLevel = new ByteLevelTokenizer();
  const byteOut = join(work, 'bytes');
  let manifest = (
    await ingest({ inputs: [CORPUS], outDir: byteOut, tokenizer: byteLevel, textSplit: 'paragraph' })
  ).manifest;
  const tByte = await best(3, () =>
    ingest({ inputs: [CORPUS], outDir: byteOut, tokenizer: byteLevel, textSplit: 'paragraph', force: true }),
  );
  record(
    'ingest byte-level (paragraph docs)',
    manifest.tokens / (tByte / 1000),
    'tokens/s',
    `${manifest.tokens} tokens, ${manifest.documents} docs, ${tByte.toFixed(0)} ms`,
  );
  const tReuse = await best(3, () =>
    ingest({ inputs: [CORPUS], outDir: byteOut, tokenizer: byteLevel, textSplit: 'paragraph' }),
  );
  record('ingest re-run (idempotent, verifies shards)', tReuse, 'ms');

  // BPE: training and ingestion with the trained tokenizer (our encoder, then through @huggingface/tokenizers).
  const vocabSize = 4096;
  let bpe!: Awaited<ReturnType<typeof trainByteLevelBpe>>;
  const tTrain = await best(1, async () => {
    bpe = await trainByteLevelBpe([text], { vocabSize });
  });
  record(`train byte-level BPE (vocab ${vocabSize})`, tTrain, 'ms', `${bpe.vocabSize} ids`);
  const bpeOut = join(work, 'bpe');
  manifest = (await ingest({ inputs: [CORPUS], outDir: bpeOut, tokenizer: bpe, textSplit: 'paragraph' }))
    .manifest;
  const bpeTokens = manifest.tokens;
  const tBpe = await best(3, () =>
    ingest({ inputs: [CORPUS], outDir: bpeOut, tokenizer: bpe, textSplit: 'paragraph', force: true }),
  );
  record(
    'ingest BPE-4096, own encoder',
    bpeTokens / (tBpe / 1000),
    'tokens/s',
    `${bpeTokens} tokens, ${tBpe.toFixed(0)} ms; ${(Buffer.byteLength(text) / bpeTokens).toFixed(2)} bytes/token`,
  );
  const tBpeCold = await best(1, async () => {
    const fresh = ByteLevelBpeTokenizer.fromTokenizerJson(bpe.toTokenizerJson()); // empty piece cache
    await ingest({
      inputs: [CORPUS],
      outDir: join(work, 'bpe-cold'),
      tokenizer: fresh,
      textSplit: 'paragraph',
    });
  });
  record(
    'ingest BPE-4096, own encoder, cold cache',
    bpeTokens / (tBpeCold / 1000),
    'tokens/s',
    `${tBpeCold.toFixed(0)} ms`,
  );
  const hf = new HuggingFaceTokenizer(bpe.toTokenizerJson());
  const tHf = await best(1, () =>
    ingest({ inputs: [CORPUS], outDir: join(work, 'hf'), tokenizer: hf, textSplit: 'paragraph' }),
  );
  record(
    'ingest BPE-4096 via @huggingface/tokenizers',
    bpeTokens / (tHf / 1000),
    'tokens/s',
    `${tHf.toFixed(0)} ms`,
  );

  // Loader, one core: packed corpus, shuffled, B=16, T=1024 (cycles through epochs).
  const corpus = await openTokenCorpus(byteOut);
  for (const [B, T] of [
    [16, 1024],
    [64, 2048],
  ] as const) {
    const loader = new BatchLoader(new PackedSequenceSource(corpus, { seqLen: T }), {
      batchSize: B,
      seed: 1,
    });
    for (let i = 0; i < 20; i++) loader.next();
    let batches = 0;
    const t0 = now();
    while (now() - t0 < 1500) {
      for (let i = 0; i < 10; i++) loader.next();
      batches += 10;
    }
    const dt = (now() - t0) / 1000;
    record(
      `loader packed corpus B=${B} T=${T}`,
      (batches * B * T) / dt,
      'tokens/s',
      `${((dt * 1000) / batches).toFixed(3)} ms/batch`,
    );
  }

  // Loader over synthetic MQAR (generation included).
  {
    const task = new MqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: 16 });
    const loader = new BatchLoader(new SyntheticSource(task, { numExamples: 100_000, seed: 1 }), {
      batchSize: 256,
      seed: 1,
    });
    let batches = 0;
    const t0 = now();
    while (now() - t0 < 1500) {
      loader.next();
      batches++;
    }
    const dt = (now() - t0) / 1000;
    record(
      'loader MQAR T=256 N=16 B=256 (generated)',
      (batches * 256 * 256) / dt,
      'tokens/s',
      `${((dt * 1000) / batches).toFixed(2)} ms/batch`,
    );
  }

  // Prefetch: consumer waits for the next batch while a 5 ms "GPU step" runs between batches.
  {
    const B = 64;
    const T = 2048;
    const loader = new BatchLoader(new PackedSequenceSource(corpus, { seqLen: T }), {
      batchSize: B,
      seed: 2,
      prefetch: 2,
    });
    const waits: number[] = [];
    const it = loader[Symbol.asyncIterator]();
    for (let i = 0; i < 60; i++) {
      const t0 = now();
      await it.next();
      waits.push(now() - t0);
      await sleep(5);
    }
    await it.return?.();
    const rest = waits.slice(1);
    const mean = rest.reduce((s, w) => s + w, 0) / rest.length;
    record(`prefetch wait, first batch (B=${B} T=${T})`, waits[0]!, 'ms');
    record('prefetch wait, later batches: mean', mean, 'ms', '5 ms simulated GPU step');
    record('prefetch wait, later batches: max', Math.max(...rest), 'ms');
    const noPrefetch = new BatchLoader(new PackedSequenceSource(corpus, { seqLen: T }), {
      batchSize: B,
      seed: 2,
      prefetch: 0,
    });
    const it0 = noPrefetch[Symbol.asyncIterator]();
    const w0: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = now();
      await it0.next();
      w0.push(now() - t0);
      await sleep(5);
    }
    record(
      '  same without prefetch (depth 0): mean',
      w0.slice(1).reduce((s, w) => s + w, 0) / (w0.length - 1),
      'ms',
    );
  }

  await mkdir(join(OUT, '..'), { recursive: true });
  await writeFile(
    OUT,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, corpus: CORPUS, results: rows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${OUT}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
