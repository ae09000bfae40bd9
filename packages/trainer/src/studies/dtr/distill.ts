import { type Backend, noGrad, type Tensor, tensor, tidy } from '@dynconv/tensor';
import type { TrainDataShape } from '../../data/TrainData.js';
import { AdamW, type AdamWUpdate } from '../../optim/adamw.js';
import { clipScale, globalGradNorm } from '../../optim/clip.js';
import { paramGroups } from '../../optim/param-groups.js';
import { learningRate } from '../../optim/schedule.js';
import { captureMixerActivations, type LayerwiseStack } from './layerwise.js';
import type { LinearBlocks } from './linear-blocks.js';

export interface DistillOptions {
  readonly teacher: LayerwiseStack;
  readonly students: LinearBlocks;
  readonly data: TrainDataShape;
  readonly backend: Backend;
  readonly steps: number;
  readonly lr: number;
  readonly withDocStart: boolean;
  readonly adamwUpdate?: AdamWUpdate;
  readonly log?: (line: string) => void;
}

export interface DistillResult {
  /** Per layer: mean squared error of the student's block output relative to the output's mean square, before and after. */
  readonly relativeMseBefore: readonly number[];
  readonly relativeMseAfter: readonly number[];
  readonly losses: readonly number[];
  readonly seconds: number;
}

/**
 * Blockwise local distillation (DtR stage 1, method.md §3.1): every layer's
 * linear module gets that layer's teacher input x_ℓ and learns to reproduce
 * the attention output y_ℓ under MSE. The teacher is frozen (its activations
 * are computed without gradients), no gradient crosses layers, so summing the
 * per-layer losses trains all layers in parallel and independently; only the
 * new parameters train.
 */
export const distillBlocks = async (o: DistillOptions): Promise<DistillResult> => {
  const started = Date.now();
  const { students } = o;
  const layers = o.teacher.spec.layers.length;
  const mode = (docStart?: Tensor) => ({ kind: 'sequence' as const, ...(docStart ? { docStart } : {}) });
  const inputsOf = (batch: ReturnType<TrainDataShape['next']>) => {
    const shape = [batch.batchSize, batch.seqLen];
    const ids = tensor(batch.inputs, { shape, dtype: 'i32', backend: o.backend });
    const docStart = o.withDocStart
      ? tensor(batch.docStart, { shape, dtype: 'i32', backend: o.backend })
      : undefined;
    return { ids, docStart };
  };
  /** Per-layer relative MSE on one held-out batch. */
  const measure = async (batch: ReturnType<TrainDataShape['next']>): Promise<number[]> => {
    const values = noGrad(() =>
      tidy(() => {
        const { ids, docStart } = inputsOf(batch);
        const acts = captureMixerActivations(o.teacher, ids, docStart);
        const out = acts.inputs.map((x, i) => {
          const y = acts.outputs[i]!;
          const s = students.mixer.apply(students.trees[i], x, mode(docStart));
          return s.sub(y).square().mean().div(y.square().mean().add(1e-12));
        });
        acts.dispose();
        return out;
      }),
    );
    const numbers: number[] = [];
    for (const v of values) {
      numbers.push(await v.item());
      v.dispose();
    }
    return numbers;
  };
  const probe = o.data.evalBatches()[0]!;
  const relativeMseBefore = await measure(probe);
  const groups = paramGroups(students.parameters, new Set(), 0);
  const optimizer = new AdamW(
    students.parameters,
    groups,
    { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    o.adamwUpdate,
  );
  const schedule = {
    kind: 'cosine' as const,
    warmupSteps: Math.round(o.steps * 0.05),
    minLrRatio: 0.1,
    decayFraction: 0.2,
  };
  const losses: number[] = [];
  try {
    for (let step = 1; step <= o.steps; step++) {
      const batch = o.data.next();
      const loss = tidy(() => {
        const { ids, docStart } = inputsOf(batch);
        const acts = captureMixerActivations(o.teacher, ids, docStart);
        let total: Tensor | null = null;
        for (let i = 0; i < layers; i++) {
          const s = students.mixer.apply(students.trees[i], acts.inputs[i]!, mode(docStart));
          const mse = s.sub(acts.outputs[i]!).square().mean();
          total = total ? total.add(mse) : mse;
        }
        total!.backward();
        acts.dispose();
        return total!.detach();
      });
      const norm = globalGradNorm(students.parameters.values());
      const [value, gradNorm] = [await loss.item(), await norm.item()];
      loss.dispose();
      norm.dispose();
      losses.push(value);
      if (Number.isFinite(value) && Number.isFinite(gradNorm))
        optimizer.step(learningRate(schedule, o.lr, step, o.steps), clipScale(gradNorm, 1));
      for (const p of students.parameters.values()) p.zeroGrad();
      if (step === 1 || step % Math.max(1, Math.round(o.steps / 10)) === 0)
        o.log?.(`distill step ${step}/${o.steps}: summed block MSE ${value.toExponential(3)}`);
    }
  } finally {
    optimizer.dispose();
  }
  const relativeMseAfter = await measure(probe);
  return { relativeMseBefore, relativeMseAfter, losses, seconds: (Date.now() - started) / 1000 };
};
