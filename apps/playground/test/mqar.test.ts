import { describe, expect, test } from 'vitest';
import { IGNORE_INDEX, mqarBatch } from '../src/task/mqar.js';
import { encodeRecallPrompt, parseRecallPrompt, sampleRecallPrompt } from '../src/task/recall-prompt.js';
import { SeededRandom } from '../src/task/seeded-random.js';

const task = { vocabSize: 64, seqLen: 64, numKvPairs: 8 };

describe('MQAR generator (method.md §5.1)', () => {
  test('every label is the value paired with the key at that position, in the context', () => {
    const batch = mqarBatch(task, 16, new SeededRandom(1, 0));
    const T = task.seqLen;
    for (let b = 0; b < batch.batchSize; b++) {
      const ids = batch.inputs.subarray(b * T, (b + 1) * T);
      const labels = batch.labels.subarray(b * T, (b + 1) * T);
      const context = new Map<number, number>();
      for (let j = 0; j < task.numKvPairs; j++) {
        expect(ids[2 * j]).toBeGreaterThanOrEqual(1);
        expect(ids[2 * j]).toBeLessThan(32);
        expect(ids[2 * j + 1]).toBeGreaterThanOrEqual(32);
        context.set(ids[2 * j]!, ids[2 * j + 1]!);
      }
      expect(context.size).toBe(task.numKvPairs);
      let asked = 0;
      for (let t = 2 * task.numKvPairs; t < T; t++) {
        if (labels[t] === IGNORE_INDEX) {
          expect(ids[t]).toBe(0);
          continue;
        }
        asked++;
        expect((t - 2 * task.numKvPairs) % 2).toBe(0);
        expect(labels[t]).toBe(context.get(ids[t]!));
      }
      expect(asked).toBe(task.numKvPairs);
    }
    expect(batch.queries).toBe(16 * task.numKvPairs);
  });

  test('the same (seed, step) gives the same batch; another step another', () => {
    const a = mqarBatch(task, 4, new SeededRandom(5, 2));
    expect(mqarBatch(task, 4, new SeededRandom(5, 2)).inputs).toEqual(a.inputs);
    expect(mqarBatch(task, 4, new SeededRandom(5, 3)).inputs).not.toEqual(a.inputs);
  });

  test('short query gaps dominate (power law, a = 0.01)', () => {
    const batch = mqarBatch(task, 64, new SeededRandom(9));
    let first = 0;
    for (let b = 0; b < 64; b++)
      if (batch.labels[b * task.seqLen + 2 * task.numKvPairs] !== IGNORE_INDEX) first++;
    expect(first).toBeGreaterThan(32);
  });
});

describe('recall prompts', () => {
  test('parse and encode like a training sequence', () => {
    const prompt = parseRecallPrompt('3:40 7:51 ? 7 3', task);
    expect(prompt).toEqual({
      pairs: [
        [3, 40],
        [7, 51],
      ],
      queries: [7, 3],
    });
    const encoded = encodeRecallPrompt(prompt, task);
    expect([...encoded.ids.slice(0, 8)]).toEqual([3, 40, 7, 51, 7, 0, 3, 0]);
    expect(encoded.queryPositions).toEqual([4, 6]);
  });

  test('reject what the task cannot express', () => {
    expect(() => parseRecallPrompt('3:40 7:51', task)).toThrow(/\?/);
    expect(() => parseRecallPrompt('40:3 ? 40', task)).toThrow(/key 40/);
    expect(() => parseRecallPrompt('3:40 3:41 ? 3', task)).toThrow(/once/);
  });

  test('sampled examples parse', () => {
    const text = sampleRecallPrompt(task, new SeededRandom(0), 8, 3);
    expect(parseRecallPrompt(text, task).queries).toHaveLength(3);
  });
});
