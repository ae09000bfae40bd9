import { describe, expect, it } from 'vitest';
import {
  BatchLoader,
  CompositionalMqarTask,
  generateExamples,
  KEY_DELIMITER,
  MqarTask,
  PowerLawGaps,
  Rng,
  SyntheticSource,
  type SyntheticTask,
  VariableKeyMqarTask,
} from '../src/index.js';

const example = (task: SyntheticTask, ...seed: number[]) => {
  const inputs = new Int32Array(task.seqLen);
  const labels = new Int32Array(task.seqLen);
  task.generate(new Rng(...seed), inputs, labels);
  return { inputs, labels };
};

describe('MqarTask (Zoology multiquery_ar)', () => {
  it('lays out keys, values, queries and labels as Zoology does', () => {
    for (const [V, T, N] of [
      [8192, 64, 4],
      [8192, 256, 16],
      [300, 256, 64],
      [130, 128, 8],
    ] as const) {
      const task = new MqarTask({ vocabSize: V, seqLen: T, numKvPairs: N, randomNonQueries: false });
      for (let s = 0; s < 20; s++) {
        const { inputs, labels } = example(task, s);
        const keys = Array.from({ length: N }, (_, j) => inputs[2 * j]!);
        const values = Array.from({ length: N }, (_, j) => inputs[2 * j + 1]!);
        expect(new Set(keys).size).toBe(N);
        expect(new Set(values).size).toBe(N);
        for (const k of keys) expect(k >= 1 && k < V / 2).toBe(true);
        for (const v of values) expect(v >= V / 2 && v < V).toBe(true);
        expect(Array.from(labels.subarray(0, 2 * N)).every((l) => l === -100)).toBe(true);
        const queried: number[] = [];
        for (let t = 2 * N; t < T; t++) {
          if (labels[t] === -100) {
            expect(inputs[t]).toBe(0);
            continue;
          }
          expect((t - 2 * N) % 2).toBe(0);
          const j = keys.indexOf(inputs[t]!);
          expect(j).toBeGreaterThanOrEqual(0);
          expect(labels[t]).toBe(values[j]);
          queried.push(j);
        }
        expect(queried.sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, j) => j));
      }
    }
  });

  it('random non-queries replace the zero fillers only', () => {
    const task = new MqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: 16 });
    const plain = new MqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: 16, randomNonQueries: false });
    const a = example(task, 3);
    const b = example(plain, 3);
    expect(a.labels).toEqual(b.labels); // the random fill comes after the structure
    for (let t = 0; t < 256; t++) if (b.inputs[t] !== 0) expect(a.inputs[t]).toBe(b.inputs[t]);
    const zeros = Array.from(a.inputs).filter((x) => x === 0).length;
    expect(zeros).toBeLessThan(3);
    expect(new Set(Array.from(a.inputs)).size).toBeGreaterThan(150);
  });

  it('query gaps follow p(i) ∝ a·i^(a−1), drawn without replacement', () => {
    const law = new PowerLawGaps(28, 0.01);
    let total = 0;
    for (let g = 0; g < 28; g++) total += 0.01 * (g + 1) ** -0.99;
    for (let g = 0; g < 28; g++)
      expect(law.probability(g)).toBeCloseTo((0.01 * (g + 1) ** -0.99) / total, 12);

    // First query's gap over many MQAR examples (T=64, N=4: space 28) matches p.
    const task = new MqarTask({ vocabSize: 8192, seqLen: 64, numKvPairs: 4, randomNonQueries: false });
    const counts = new Array(28).fill(0);
    const n = 6000;
    for (let s = 0; s < n; s++) {
      const { inputs } = example(task, 100, s);
      const k1 = inputs[0]!;
      for (let t = 8; t < 64; t += 2) if (inputs[t] === k1) counts[(t - 8) / 2]++;
    }
    for (let g = 0; g < 28; g++) {
      const p = law.probability(g);
      expect(Math.abs(counts[g] / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-3);
    }

    // Ordered pairs: P(g1 = a, g2 = b) = p_a · p_b / (1 − p_a), as numpy's choice(replace=False, p).
    const small = new PowerLawGaps(3, 0.5);
    const joint = new Map<string, number>();
    const rng = new Rng(5);
    const out = new Int32Array(2);
    const m = 30_000;
    for (let i = 0; i < m; i++) {
      small.sample(rng, 2, out);
      joint.set(`${out[0]},${out[1]}`, (joint.get(`${out[0]},${out[1]}`) ?? 0) + 1);
    }
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        if (a === b) {
          expect(joint.has(`${a},${b}`)).toBe(false);
          continue;
        }
        const p = (small.probability(a) * small.probability(b)) / (1 - small.probability(a));
        expect(Math.abs((joint.get(`${a},${b}`) ?? 0) / m - p)).toBeLessThan(0.012);
      }
    }
    // Drawing every gap still works (the fallback path).
    const all = new Int32Array(28);
    law.sample(new Rng(6), 28, all);
    expect(Array.from(all).sort((x, y) => x - y)).toEqual(Array.from({ length: 28 }, (_, i) => i));
  });

  it('validates its parameters like Zoology’s asserts', () => {
    expect(() => new MqarTask({ vocabSize: 8192, seqLen: 63, numKvPairs: 4 })).toThrow(/even/);
    expect(() => new MqarTask({ vocabSize: 64, seqLen: 64, numKvPairs: 4 })).toThrow(/exceed/);
    expect(() => new MqarTask({ vocabSize: 8192, seqLen: 64, numKvPairs: 17 })).toThrow(/4N/);
  });
});

describe('CompositionalMqarTask (Zoology compositional_mqar)', () => {
  it('uses a √N×√N grid of two-token keys with labels at the query K2', () => {
    const V = 8192;
    const T = 256;
    const N = 16;
    const task = new CompositionalMqarTask({
      vocabSize: V,
      seqLen: T,
      numKvPairs: N,
      randomNonQueries: false,
    });
    const third = Math.floor(V / 3);
    for (let s = 0; s < 20; s++) {
      const { inputs, labels } = example(task, s);
      const pairs = new Map<string, number>();
      const k1s = new Set<number>();
      const k2s = new Set<number>();
      for (let j = 0; j < N; j++) {
        const [k1, k2, v] = [inputs[3 * j]!, inputs[3 * j + 1]!, inputs[3 * j + 2]!];
        expect(k1 >= 1 && k1 < third).toBe(true);
        expect(k2 >= third && k2 < 2 * third).toBe(true);
        expect(v >= 2 * third && v < V).toBe(true);
        pairs.set(`${k1},${k2}`, v);
        k1s.add(k1);
        k2s.add(k2);
      }
      expect([k1s.size, k2s.size, pairs.size]).toEqual([4, 4, 16]); // every grid cell once
      expect(new Set(pairs.values()).size).toBe(N);
      let labelled = 0;
      for (let t = 3 * N; t < T; t++) {
        if (labels[t] === -100) continue;
        labelled++;
        expect((t - 3 * N) % 3).toBe(1);
        expect(labels[t]).toBe(pairs.get(`${inputs[t - 1]},${inputs[t]}`));
      }
      expect(labelled).toBe(N);
    }
    expect(() => new CompositionalMqarTask({ vocabSize: V, seqLen: T, numKvPairs: 15 })).toThrow(
      /perfect square/,
    );
    expect(() => new CompositionalMqarTask({ vocabSize: V, seqLen: 64, numKvPairs: 16 })).toThrow(/6 tokens/);
  });
});

describe('VariableKeyMqarTask', () => {
  it('writes delimiter-terminated keys of 1–3 tokens whose whole span determines the value', () => {
    const N = 16;
    const task = new VariableKeyMqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: N });
    for (const randomNonQueries of [false, true]) {
      const t2 = new VariableKeyMqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: N, randomNonQueries });
      for (let s = 0; s < 30; s++) {
        const { inputs, labels } = example(t2, s);
        // Parse the context: key… ⟂ value, N times.
        const map = new Map<string, number>();
        const pool = new Set<number>();
        let t = 0;
        for (let j = 0; j < N; j++) {
          const key: number[] = [];
          while (inputs[t] !== KEY_DELIMITER) key.push(inputs[t++]!);
          t++;
          expect(key.length).toBeGreaterThanOrEqual(1);
          expect(key.length).toBeLessThanOrEqual(3);
          for (const k of key) pool.add(k);
          expect(map.has(key.join())).toBe(false);
          map.set(key.join(), inputs[t++]!);
        }
        expect(pool.size).toBeLessThanOrEqual(task.keyTokenPool);
        let labelled = 0;
        const inSpan = new Uint8Array(256);
        for (let q = t; q < 256; q++) {
          if (labels[q] === -100) continue;
          labelled++;
          expect(inputs[q]).toBe(KEY_DELIMITER);
          inSpan[q] = 1;
          const key: number[] = [];
          for (let p = q - 1; pool.has(inputs[p]!); p--) {
            key.unshift(inputs[p]!);
            inSpan[p] = 1;
          }
          expect(labels[q]).toBe(map.get(key.join()));
        }
        // Outside query spans: plain 0 fillers, or random tokens that cannot extend a key.
        for (let q = t; q < 256; q++) {
          if (inSpan[q]) continue;
          if (randomNonQueries) expect(pool.has(inputs[q]!) || inputs[q] === KEY_DELIMITER).toBe(false);
          else expect(inputs[q]).toBe(0);
        }
        expect(labelled).toBe(N);
      }
    }
  });
});

describe('SyntheticSource', () => {
  it('is deterministic by seed', () => {
    const task = new MqarTask({ vocabSize: 8192, seqLen: 64, numKvPairs: 4 });
    const a = generateExamples(new SyntheticSource(task, { numExamples: 10, seed: 1 }), 10);
    const b = generateExamples(new SyntheticSource(task, { numExamples: 10, seed: 1 }), 10);
    const c = generateExamples(new SyntheticSource(task, { numExamples: 10, seed: 2 }), 10);
    expect(a).toEqual(b);
    expect(a.inputs).not.toEqual(c.inputs);
  });

  it('never puts the same example in train and validation, even in a tiny example space', () => {
    // 480 possible inputs: without the content partition, splits of this size would overlap.
    const task = new MqarTask({ vocabSize: 10, seqLen: 8, numKvPairs: 2, randomNonQueries: false });
    const rows = (split: 'train' | 'validation', seed: number, n: number) => {
      const source = new SyntheticSource(task, { split, numExamples: n, seed });
      const { inputs } = generateExamples(source, n);
      return new Set(Array.from({ length: n }, (_, i) => inputs.subarray(i * 8, (i + 1) * 8).join()));
    };
    const train = rows('train', 1, 3000);
    const validation = rows('validation', 1, 300);
    expect(train.size).toBeGreaterThan(300);
    expect(validation.size).toBeGreaterThan(10);
    expect([...validation].filter((r) => train.has(r))).toEqual([]);
    // Two train streams (different seeds) do share examples: the check above can fail.
    const otherTrain = rows('train', 2, 3000);
    expect([...otherTrain].filter((r) => train.has(r)).length).toBeGreaterThan(100);
  });

  it('feeds the batch loader: targets are the labels, one document per row, exact resume', () => {
    const task = new CompositionalMqarTask({ vocabSize: 512, seqLen: 64, numKvPairs: 4 });
    const source = new SyntheticSource(task, { numExamples: 50, seed: 3 });
    const loader = new BatchLoader(source, { batchSize: 8, seed: 4 });
    const batches = Array.from({ length: 9 }, () => loader.next()!);
    const b0 = batches[0]!;
    expect([b0.batchSize, b0.seqLen, b0.inputs.length]).toEqual([8, 64, 512]);
    expect(b0.docStart.every((x) => x === 0)).toBe(true);
    expect(Array.from(b0.positions.subarray(64, 128))).toEqual(Array.from({ length: 64 }, (_, t) => t));
    const labelled = Array.from(b0.targets).filter((x) => x !== -100).length;
    expect(labelled).toBe(8 * 4);
    // Each row is one of the source's examples.
    const all = generateExamples(source, 50);
    const known = new Set(
      Array.from({ length: 50 }, (_, i) => all.inputs.subarray(i * 64, (i + 1) * 64).join()),
    );
    for (let b = 0; b < 8; b++) expect(known.has(b0.inputs.subarray(b * 64, (b + 1) * 64).join())).toBe(true);
    const resumed = new BatchLoader(source, {
      batchSize: 8,
      seed: 4,
      resume: JSON.parse(JSON.stringify(batches[4]!.cursor)),
    });
    for (let k = 5; k < 9; k++) expect(resumed.next()!.targets).toEqual(batches[k]!.targets);
  });
});
