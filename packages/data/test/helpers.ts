import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Rng } from '../src/random.js';

const dirs: string[] = [];

/** A fresh temporary folder, removed after the current test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dynconv-data-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Sorted names in a folder (including dot-files). */
export const listDir = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...'  \t.,;:!?\'"-()[]{}',
  'é',
  'ü',
  'ß',
  'ñ',
  'ж',
  'λ',
  '日',
  '本',
  '語',
  '🦜',
  '🚀',
  '\u00a0',
  '\u200d',
];

/** Random text of `length` code points, mixing ASCII, Latin-1, CJK, emoji and whitespace. */
export function randomText(rng: Rng, length: number, options: { newlines?: boolean } = {}): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    if (options.newlines && rng.nextInt(40) === 0) s += '\n';
    else s += ALPHABET[rng.nextInt(ALPHABET.length)]!;
  }
  return s;
}

/** Random word-like text (so BPE finds repeated pairs). */
export function randomProse(rng: Rng, words: number): string {
  const vocab = [
    'the',
    'cat',
    'sat',
    'on',
    'mat',
    'dog',
    'ran',
    'über',
    'naïve',
    '日本',
    "it's",
    '42',
    'hello,',
    'world.',
    '🦜',
  ];
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(vocab[rng.nextInt(vocab.length)]!);
  return out.join(rng.nextInt(5) === 0 ? '  ' : ' ');
}

/** `n` random documents of token ids below `vocab`, with lengths in [0, maxLength]. */
export function randomDocs(rng: Rng, n: number, maxLength: number, vocab: number): number[][] {
  return Array.from({ length: n }, () =>
    Array.from({ length: rng.nextInt(maxLength + 1) }, () => rng.nextInt(vocab)),
  );
}

/** The package's seeded PRNG, re-exported for tests. */
export { Rng };
