import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Effect } from 'effect';
import { describe, expect, test } from 'vitest';
import { runDtr } from '../src/studies/dtr/study.js';
import { trainBase } from './study-support/base-model.js';

describe('dynconv dtr (tiny)', () => {
  test('distills a Gated DeltaNet per attention layer, searches greedily, scores baselines, measures decode and saves the hybrids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynconv-dtr-'));
    const teacher = await trainBase(dir, {
      name: 'teacher',
      device: 'cpu',
      seed: 5,
      steps: 60,
      model: { architecture: 'transformer', config: { vocabSize: 48, dModel: 16, nLayers: 3, nHeads: 2 } },
      data: { kind: 'mqar', vocabSize: 48, numKvPairs: 2, trainExamples: 1024, evalExamples: 64 },
      batch: { size: 16, seqLen: 16 },
      optimizer: { lr: 1e-2 },
      schedule: { kind: 'cosine', warmupSteps: 4 },
      eval: { every: 0 },
      checkpoint: { every: 0, keepLast: 1 },
    });
    const result = await Effect.runPromise(
      runDtr({ checkpoint: teacher, size: 'tiny', outDir: join(dir, 'out'), log: () => {} }),
    );

    // Distillation reduced every block's error.
    expect(result.distill.relativeMseAfter).toHaveLength(3);
    for (const [i, after] of result.distill.relativeMseAfter.entries())
      expect(after).toBeLessThan(result.distill.relativeMseBefore[i]!);
    // The greedy search followed §3.2: each round tried every remaining layer.
    for (const [i, round] of result.greedy.rounds.entries()) expect(round.candidates).toHaveLength(3 - i);
    expect(result.greedy.mostLinear.score).toBeGreaterThanOrEqual(result.greedy.minScore);
    expect(result.greedy.best.score).toBeGreaterThanOrEqual(result.greedy.baseScore);
    const [full, best, opt, uniform, random] = result.models;
    expect(full!.replaced).toEqual([]);
    expect(best!.replaced).toEqual(result.greedy.best.replaced);
    expect(opt!.replaced).toEqual(result.greedy.mostLinear.replaced);
    expect(uniform!.replaced).toHaveLength(opt!.replaced.length);
    expect(random!.replaced).toHaveLength(opt!.replaced.length);
    for (const m of [full!, best!, opt!]) expect(m.decode!.tokensPerSecond).toBeGreaterThan(0);
    // Baseline curves cover every count.
    expect(result.curves.map((c) => c.k)).toEqual([1, 2, 3]);
    // Both hybrids are saved as hybrid configs + safetensors.
    for (const m of [best!, opt!]) {
      expect(existsSync(join(m.savedTo!, 'model.safetensors'))).toBe(true);
      const saved = JSON.parse(readFileSync(join(m.savedTo!, 'config.json'), 'utf8'));
      expect(saved.architecture).toBe('hybrid');
      expect(saved.config.layers.map((l: { mixer: string }) => l.mixer)).toEqual(
        [0, 1, 2].map((i) => (m.replaced.includes(i) ? 'gated-deltanet' : 'attention')),
      );
    }
    const html = readFileSync(result.reportPath, 'utf8');
    expect(html).toContain('Score vs layers replaced');
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
  });
});
