import type { MqarConfig } from './mqar.js';
import type { SeededRandom } from './seeded-random.js';

/**
 * A human-typed MQAR prompt: `key:value` pairs, then `?` and the keys to look
 * up, e.g. `3:20 7:25 12:17 ? 7 3`. Keys live in [1, V/2), values in [V/2, V).
 */
export interface RecallPrompt {
  readonly pairs: readonly (readonly [key: number, value: number])[];
  readonly queries: readonly number[];
}

/** The prompt as one model input row, and where the answers are read. */
export interface EncodedPrompt {
  /** i32 `[seqLen]`. */
  readonly ids: Int32Array;
  /** Sequence position of each query key (its next-token prediction is the recalled value). */
  readonly queryPositions: readonly number[];
}

export function parseRecallPrompt(text: string, config: MqarConfig): RecallPrompt {
  const [context = '', questions = ''] = text.split('?');
  if (!text.includes('?'))
    throw new Error('Write the pairs, then "?" and the keys to recall, e.g. "3:20 7:25 ? 7"');
  const half = Math.floor(config.vocabSize / 2);
  const pairs = words(context).map((word) => {
    const match = /^(\d+):(\d+)$/.exec(word);
    if (!match) throw new Error(`"${word}" is not a key:value pair`);
    const key = checkToken(Number(match[1]), 1, half, 'key');
    return [key, checkToken(Number(match[2]), half, config.vocabSize, 'value')] as const;
  });
  const queries = words(questions).map((word) => checkToken(Number(word), 1, half, 'query key'));
  if (pairs.length === 0 || queries.length === 0) throw new Error('Give at least one pair and one query');
  if (new Set(pairs.map(([k]) => k)).size !== pairs.length)
    throw new Error('Each key may appear once in the context');
  if (2 * pairs.length + 2 * queries.length > config.seqLen)
    throw new Error(
      `Too long: ${pairs.length} pairs and ${queries.length} queries exceed ${config.seqLen} tokens`,
    );
  return { pairs, queries };
}

/** Lays the prompt out like a training sequence: context, then queries two apart with 0 in between. */
export function encodeRecallPrompt(prompt: RecallPrompt, config: MqarConfig): EncodedPrompt {
  const ids = new Int32Array(config.seqLen);
  prompt.pairs.forEach(([key, value], j) => {
    ids[2 * j] = key;
    ids[2 * j + 1] = value;
  });
  const start = 2 * prompt.pairs.length;
  const queryPositions = prompt.queries.map((key, q) => {
    ids[start + 2 * q] = key;
    return start + 2 * q;
  });
  return { ids, queryPositions };
}

/** A random example prompt in the training distribution's vocabulary. */
export function sampleRecallPrompt(
  config: MqarConfig,
  rng: SeededRandom,
  pairs: number,
  queries: number,
): string {
  const half = Math.floor(config.vocabSize / 2);
  const keys = shuffled(rng, 1, half).slice(0, pairs);
  const values = shuffled(rng, half, config.vocabSize).slice(0, pairs);
  const asked = shuffled(rng, 0, pairs)
    .slice(0, queries)
    .map((j) => keys[j]!);
  return `${keys.map((k, j) => `${k}:${values[j]}`).join(' ')} ? ${asked.join(' ')}`;
}

const words = (text: string): string[] =>
  text
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);

function checkToken(token: number, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(token) || token < lo || token >= hi)
    throw new Error(`${what} ${token} must be in [${lo}, ${hi})`);
  return token;
}

function shuffled(rng: SeededRandom, lo: number, hi: number): number[] {
  const out = Array.from({ length: hi - lo }, (_, i) => lo + i);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
