import { tensor } from '@dynconv/tensor';
import { type SamplingOptions, SamplingRng, sampleNext } from './sampling.js';
import type { ModelV1 } from './spec/v1.js';

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  /** Seed of the sampling stream. Default 0. */
  readonly seed?: number;
  /** Stop a sequence once it emits this token (it stays padded with it). */
  readonly eosToken?: number;
}

/**
 * Autoregressive generation with the model's decode state: one prefill step
 * over the prompts, then one step per new token. `prompts` are equal-length
 * token rows; returns the new tokens of each row.
 */
export async function generate(
  model: ModelV1,
  prompts: readonly (readonly number[])[],
  o: GenerateOptions,
): Promise<number[][]> {
  const batch = prompts.length;
  const promptLength = prompts[0]?.length ?? 0;
  if (batch === 0 || promptLength === 0) throw new Error('generate: needs at least one non-empty prompt');
  if (prompts.some((p) => p.length !== promptLength))
    throw new Error('generate: prompts must have equal lengths');
  const backend = model.parameters.values().next().value?.backend;
  const rng = new SamplingRng(o.seed ?? 0);
  let state = model.initState(batch, promptLength + o.maxNewTokens);
  const out: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(batch).fill(false);
  let ids = tensor(Int32Array.from(prompts.flat()), {
    shape: [batch, promptLength],
    ...(backend ? { backend } : {}),
  });
  try {
    for (let i = 0; i < o.maxNewTokens; i++) {
      const r = model.step(ids, state);
      state = r.state;
      ids.dispose();
      const next = await sampleNext(r.logits, o, rng);
      r.logits.dispose();
      next.forEach((t, b) => {
        if (done[b]) next[b] = o.eosToken!;
        else {
          out[b]!.push(t);
          if (t === o.eosToken) done[b] = true;
        }
      });
      ids = tensor(next, { shape: [batch, 1], ...(backend ? { backend } : {}) });
      if (done.every(Boolean)) break;
    }
  } finally {
    ids.dispose();
    model.disposeState(state);
  }
  return out;
}
