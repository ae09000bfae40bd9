import { argmax, type Backend, cast, crossEntropy, eq, sum, tensor, tidy } from '@dynconv/tensor';
import type { TrainableModel } from '../model/trainable-model.js';
import { variantById } from '../model/variants.js';
import { IGNORE_INDEX, mqarBatch } from '../task/mqar.js';
import { SeededRandom } from '../task/seeded-random.js';
import { AdamW } from './adamw.js';
import { learningRate, type RunConfig } from './run-config.js';

export interface StepMetrics {
  /** 1-based step number. */
  readonly step: number;
  readonly loss: number;
  /** Fraction of MQAR queries whose argmax prediction is the right value. */
  readonly accuracy: number;
  readonly lr: number;
  /** Wall time of this step, read-back included. */
  readonly ms: number;
}

/**
 * One training run on one backend: the model, its optimizer and the step
 * counter. Shared verbatim by the page (WebGPU) and the Node reference in the
 * browser test (CPU backend), which is what makes their losses comparable.
 */
export class TrainingRun {
  readonly model: TrainableModel;
  private readonly optimizer: AdamW;
  private completed = 0;

  constructor(
    readonly backend: Backend,
    readonly config: RunConfig,
  ) {
    this.model = variantById(config.variant).build(config.model, config.task.vocabSize, backend, config.seed);
    this.optimizer = new AdamW(this.model.parameters, this.model.noDecay, {
      lr: config.lr,
      weightDecay: config.weightDecay,
    });
  }

  get stepsDone(): number {
    return this.completed;
  }

  get finished(): boolean {
    return this.completed >= this.config.steps;
  }

  async step(): Promise<StepMetrics> {
    const started = performance.now();
    const { backend, config } = this;
    // Batches are addressed by (seed, step), independent of anything drawn before.
    const batch = mqarBatch(config.task, config.batchSize, new SeededRandom(config.seed, this.completed));
    const shape = [batch.batchSize, batch.seqLen];
    const [loss, hits] = tidy(() => {
      const ids = tensor(batch.inputs, { shape, dtype: 'i32', backend });
      const labels = tensor(batch.labels, { shape, dtype: 'i32', backend });
      const logits = this.model.forward({ ids }, { training: true });
      const loss = crossEntropy(logits, labels, { ignoreIndex: IGNORE_INDEX });
      loss.backward();
      return [loss, sum(cast(eq(argmax(logits, -1), labels), 'f32'))];
    });
    const lr = learningRate(config, this.completed);
    this.optimizer.step(lr);
    const [lossValue, hitCount] = await Promise.all([loss.item(), hits.item()]);
    loss.dispose();
    hits.dispose();
    this.completed++;
    return {
      step: this.completed,
      loss: lossValue,
      accuracy: hitCount / batch.queries,
      lr,
      ms: performance.now() - started,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}
