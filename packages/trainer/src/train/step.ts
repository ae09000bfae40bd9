import { type Backend, crossEntropy, noGrad, type Tensor, tensor, tidy } from '@dynconv/tensor';
import type { TrainBatch } from '../data/TrainData.js';
import type { ModelV1 } from '../model/spec.js';
import type { AdamW } from '../optim/adamw.js';
import { clipScale, globalGradNorm } from '../optim/clip.js';

/** How one optimizer step went. */
export interface StepOutcome {
  /** Mean cross-entropy over the step's micro-batches. */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** False when the loss or a gradient was NaN/Inf: the update was skipped. */
  readonly finite: boolean;
  readonly tokens: number;
}

/** Token ids (and document starts) of a batch as tensors. */
export function batchInput(
  batch: TrainBatch,
  backend: Backend,
  withDocStart: boolean,
): { ids: Tensor; docStart?: Tensor } {
  const shape = [batch.batchSize, batch.seqLen];
  const ids = tensor(batch.inputs, { shape, dtype: 'i32', backend });
  return withDocStart ? { ids, docStart: tensor(batch.docStart, { shape, dtype: 'i32', backend }) } : { ids };
}

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  readonly model: ModelV1;
  readonly trainable: ReadonlyMap<string, Tensor>;
  readonly optimizer: AdamW;
  readonly backend: Backend;
  /** Micro-batches, already drawn from the loader. */
  readonly batches: readonly TrainBatch[];
  readonly lr: number;
  readonly gradClip: number;
  /** Pass document starts to the model (packed corpora). */
  readonly withDocStart: boolean;
}

const clearGradients = (params: Iterable<Tensor>): void => {
  for (const p of params) p.zeroGrad();
};

/**
 * One optimizer step: forward and backward over each micro-batch (gradients
 * accumulate, each micro-batch weighted 1/n), one read of loss and gradient
 * norm, then either the clipped AdamW update or, when anything is non-finite,
 * no update at all.
 */
export async function trainStep(o: TrainStepOptions): Promise<StepOutcome> {
  const n = o.batches.length;
  let lossTotal: Tensor | null = null;
  let tokens = 0;
  try {
    for (const batch of o.batches) {
      tokens += batch.batchSize * batch.seqLen;
      const loss = tidy(() => {
        const input = batchInput(batch, o.backend, o.withDocStart);
        const targets = tensor(batch.targets, {
          shape: [batch.batchSize, batch.seqLen],
          dtype: 'i32',
          backend: o.backend,
        });
        const logits = o.model.forward(input, { training: true });
        const ce = crossEntropy(logits, targets);
        const aux = o.model.auxLoss?.() ?? null;
        const objective = aux ? ce.add(aux) : ce;
        (n > 1 ? objective.mul(1 / n) : objective).backward();
        return ce.detach();
      });
      if (lossTotal) {
        const sum: Tensor = noGrad(() => lossTotal!.add(loss));
        lossTotal.dispose();
        loss.dispose();
        lossTotal = sum;
      } else lossTotal = loss;
    }
    const norm = globalGradNorm(o.trainable.values());
    const [lossSum, gradNorm] = [await lossTotal!.item(), await norm.item()];
    norm.dispose();
    const loss = lossSum / n;
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) o.optimizer.step(o.lr, clipScale(gradNorm, o.gradClip));
    return { loss, gradNorm, finite, tokens };
  } finally {
    lossTotal?.dispose();
    clearGradients(o.trainable.values());
  }
}
