import { type Backend, type Tensor, tensor } from '@dynconv/tensor';
import type { ModelV1 } from '../../model/spec.js';

export interface DecodeSpeed {
  /** Generated tokens per second (all sequences), after prefilling `context` tokens. */
  readonly tokensPerSecond: number;
  readonly msPerToken: number;
}

/**
 * Decode throughput the way a server sees it: prefill `context` tokens, then
 * `tokens` single-token steps through the model's decode caches (KV caches
 * for attention, recurrent states for linear layers). Fixed token ids (the
 * content does not change the cost); one read of the last logits at the end
 * waits for all queued GPU work. The best of `repeats` timings.
 */
export const measureDecode = async (
  model: ModelV1,
  backend: Backend,
  options: {
    readonly batch: number;
    readonly context: number;
    readonly tokens: number;
    readonly repeats: number;
    readonly vocabSize: number;
  },
): Promise<DecodeSpeed> => {
  const { batch, context, tokens } = options;
  const ids = (n: number) =>
    tensor(
      Int32Array.from({ length: batch * n }, (_, i) => (i * 7919) % options.vocabSize),
      { shape: [batch, n], dtype: 'i32', backend },
    );
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r <= options.repeats; r++) {
    let state = model.initState(batch, context + tokens);
    const prompt = ids(context);
    const prefill = model.step(prompt, state);
    prompt.dispose();
    prefill.logits.dispose();
    state = prefill.state;
    const step = ids(1);
    let last: Tensor | null = null;
    // Flush the prefill before timing the decode loop.
    const warm = model.step(step, state);
    state = warm.state;
    await warm.logits.data();
    warm.logits.dispose();
    const started = performance.now();
    for (let t = 1; t < tokens; t++) {
      const out = model.step(step, state);
      last?.dispose();
      last = out.logits;
      state = out.state;
    }
    if (last) await last.data();
    const elapsed = performance.now() - started;
    last?.dispose();
    step.dispose();
    model.disposeState(state);
    // Repeat 0 warms up pipelines and allocations.
    if (r > 0 || options.repeats === 0) best = Math.min(best, elapsed);
  }
  const generated = batch * Math.max(1, tokens - 1);
  return { tokensPerSecond: (generated / best) * 1000, msPerToken: best / Math.max(1, tokens - 1) };
};
