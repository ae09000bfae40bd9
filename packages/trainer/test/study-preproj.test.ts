import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Effect } from 'effect';
import { describe, expect, test } from 'vitest';
import { runPreprojStudy } from '../src/studies/preproj/study.js';
import { trainBase } from './study-support/base-model.js';
import { prepareSourceCorpus } from './study-support/corpus.js';

describe('dynconv study preproj (tiny)', () => {
  test('freezes a trained base, trains pre-projection (+ skip) and a matched LoRA, reports perplexity and skip norms', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-study-preproj-'));
    const corpus = await prepareSourceCorpus(join(dir, 'corpus'));
    const base = await trainBase(dir, {
      name: 'base',
      device: 'cpu',
      seed: 3,
      steps: 40,
      model: { architecture: 'transformer', config: { vocabSize: 256, dModel: 16, nLayers: 2, nHeads: 2 } },
      data: { kind: 'corpus', path: corpus, validationFraction: 0.1 },
      batch: { size: 8, seqLen: 32 },
      optimizer: { lr: 1e-2 },
      schedule: { kind: 'cosine', warmupSteps: 4 },
      eval: { every: 0, batches: 2 },
      checkpoint: { every: 0, keepLast: 1 },
    });
    const result = await Effect.runPromise(
      runPreprojStudy({ base, size: 'tiny', outDir: join(dir, 'out'), log: () => {} }),
    );

    expect(result.arms.map((a) => a.arm)).toEqual(['base', 'preproj', 'preproj+skip', 'lora']);
    const [baseArm, pre, skip, lora] = result.arms;
    // d = 16, 2 layers, expansion 1.25: pre-projection 2·20·16 per layer; the skip adds 16² per layer.
    expect(pre!.trainableParameters).toBe(2 * 2 * 20 * 16);
    expect(skip!.trainableParameters).toBe(2 * (2 * 20 * 16 + 16 * 16));
    // LoRA on q, k, v, o (4 × (16 + 16) per rank per layer) matched to the skip arm: rank round(1792 / 256) = 7.
    expect(lora!.loraRank).toBe(7);
    expect(lora!.trainableParameters).toBe(7 * 2 * 4 * 32);
    // Every probe starts from the base (zero/near-zero init) and is measured on the same held-out batches.
    for (const arm of [pre!, skip!, lora!]) {
      expect(arm.curve[0]!.loss).toBeCloseTo(baseArm!.evalLoss, 3);
      expect(Number.isFinite(arm.perplexity)).toBe(true);
      expect(arm.evalLoss).toBeLessThan(baseArm!.evalLoss); // training the new parameters helps in-domain
    }
    expect(result.skipNorms.map((s) => s.layer)).toEqual([0, 1]);
    for (const s of result.skipNorms) expect(s.norm).toBeGreaterThan(0);
    const html = readFileSync(result.reportPath, 'utf8');
    expect(html).toContain('pre-projection + content skip');
    expect(readFileSync(result.resultsPath, 'utf8').trim().split('\n')).toHaveLength(4 + 2);
  });
});
