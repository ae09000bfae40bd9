import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as main from '../src/index.js';
import * as synthetic from '../src/synthetic/index.js';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Every module specifier imported (statically) by `file` and, through relative imports, by what it imports. */
function importGraph(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
  seen.set(file, specifiers);
  for (const s of specifiers)
    if (s.startsWith('.')) importGraph(resolve(dirname(file), s.replace(/\.js$/, '.ts')), seen);
  return seen;
}

describe('@dynconv/data/synthetic (browser-safe entry)', () => {
  it('imports nothing but its own relative modules: no Node built-ins, no packages', () => {
    const graph = importGraph(join(src, 'synthetic', 'index.ts'));
    const outside = [...graph].flatMap(([file, specs]) =>
      specs.filter((s) => !s.startsWith('.')).map((s) => `${file.slice(src.length)}: ${s}`),
    );
    expect(outside).toEqual([]);
    expect(graph.size).toBeGreaterThan(4);
  });

  it('the main entry imports Node built-ins (which is why the subpath exists)', () => {
    const graph = importGraph(join(src, 'index.ts'));
    expect([...graph.values()].flat().some((s) => s.startsWith('node:'))).toBe(true);
  });

  it('gives the same examples as the main entry', () => {
    expect(synthetic.MqarTask).toBe(main.MqarTask);
    const task = new synthetic.MqarTask({ vocabSize: 97, seqLen: 40, numKvPairs: 5 });
    const [a, b] = [new Int32Array(40), new Int32Array(40)];
    const [la, lb] = [new Int32Array(40), new Int32Array(40)];
    task.generate(new synthetic.Rng(3, 1), a, la);
    new main.MqarTask({ vocabSize: 97, seqLen: 40, numKvPairs: 5 }).generate(new synthetic.Rng(3, 1), b, lb);
    expect([...a]).toEqual([...b]);
    expect([...la]).toEqual([...lb]);
  });
});
