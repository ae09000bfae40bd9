import { type Backend, crossEntropy, eq, noGrad, tensor, tidy } from '@dynconv/tensor';
import type { TrainBatch } from '../data/TrainData.js';
import type { ModelV1 } from '../model/spec.js';
import { batchInput } from './step.js';

/** Evaluation over a fixed set of batches. */
export interface EvalResult {
  /** Mean cross-entropy over labeled positions. */
  readonly loss: number;
  readonly perplexity: number;
  /** Fraction of labeled positions where the arg-max prediction is the label. */
  readonly accuracy: number;
  /** Labeled positions counted. */
  readonly labeled: number;
}

const IGNORE = -100;

/** Loss, perplexity and accuracy of `model` on `batches` (no gradients, `training: false`). */
export async function evaluate(
  model: ModelV1,
  batches: readonly TrainBatch[],
  backend: Backend,
  withDocStart: boolean,
): Promise<EvalResult> {
  let lossSum = 0;
  let correct = 0;
  let labeled = 0;
  for (const batch of batches) {
    for (const t of batch.targets) if (t !== IGNORE) labeled++;
    const [loss, hits] = noGrad(() =>
      tidy(() => {
        const shape = [batch.batchSize, batch.seqLen];
        const targets = tensor(batch.targets, { shape, dtype: 'i32', backend });
        const logits = model.forward(batchInput(batch, backend, withDocStart), { training: false });
        const ce = crossEntropy(logits, targets, { reduction: 'sum' });
        // Ignored positions (-100) never equal an arg-max, so they never count as hits.
        const hit = eq(logits.argmax(-1), targets).cast('f32').sum();
        return [ce, hit] as const;
      }),
    );
    lossSum += await loss.item();
    correct += await hits.item();
    loss.dispose();
    hits.dispose();
  }
  const mean = labeled > 0 ? lossSum / labeled : Number.NaN;
  return { loss: mean, perplexity: Math.exp(mean), accuracy: labeled > 0 ? correct / labeled : 0, labeled };
}
