import type { Rng } from '../random.js';

/**
 * A synthetic sequence task: a deterministic function from a random stream to one example.
 * `labels[t]` is the token to predict at position `t` (already shifted, as Zoology returns them),
 * `-100` where nothing is asked.
 */
export interface SyntheticTask {
  readonly name: string;
  readonly seqLen: number;
  readonly vocabSize: number;
  /** Stable identity of the task and all its parameters. */
  readonly fingerprint: string;
  /** Writes one example into `inputs` and `labels` (each of length `seqLen`). */
  generate(rng: Rng, inputs: Int32Array, labels: Int32Array): void;
}

/** Zoology's `random_non_queries`: replace every 0 in the inputs by a uniform token in [0, V). */
export function fillRandomNonQueries(rng: Rng, inputs: Int32Array, vocabSize: number): void {
  for (let t = 0; t < inputs.length; t++) if (inputs[t] === 0) inputs[t] = rng.nextInt(vocabSize);
}
