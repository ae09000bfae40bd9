import { type Backend, noGrad, softmax, tensor, tidy } from '@dynconv/tensor';
import type { TrainableModel } from '../model/trainable-model.js';
import type { EncodedPrompt } from '../task/recall-prompt.js';

export interface RecallAnswer {
  readonly position: number;
  /** The key read at `position`. */
  readonly key: number;
  /** The most likely next token: the recalled value. */
  readonly predicted: number;
  readonly probability: number;
}

/** Runs the model on one prompt and reads its answer after every query key. */
export async function recall(
  model: TrainableModel,
  backend: Backend,
  prompt: EncodedPrompt,
): Promise<RecallAnswer[]> {
  const seqLen = prompt.ids.length;
  const probabilities = noGrad(() =>
    tidy(() => {
      const ids = tensor(prompt.ids, { shape: [1, seqLen], dtype: 'i32', backend });
      return softmax(model.forward({ ids }, { training: false }), -1);
    }),
  );
  const vocab = probabilities.shape[2]!;
  const values = await probabilities.data();
  probabilities.dispose();
  return prompt.queryPositions.map((position) => {
    const row = values.subarray(position * vocab, (position + 1) * vocab);
    let predicted = 0;
    for (let v = 1; v < vocab; v++) if (row[v]! > row[predicted]!) predicted = v;
    return { position, key: prompt.ids[position]!, predicted, probability: row[predicted]! };
  });
}
