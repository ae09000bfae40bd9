import { type Backend, crossEntropy, noGrad, type Tensor, tensor, tidy } from '@dynconv/tensor';
import type { TrainBatch } from '../data/TrainData.js';
import type { ModelInput, ModelV1 } from '../model/spec.js';
import type { AdamW } from '../optim/adamw.js';
import { clipScale, globalGradNorm } from '../optim/clip.js';
import { type DeviceStepControl, readRecord } from '../optim/device-step-webgpu.js';

/** How one optimizer step went. */
export interface StepOutcome {
  /** Mean cross-entropy over the step's micro-batches. */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** False when the loss or a gradient was NaN/Inf: the update was skipped. */
  readonly finite: boolean;
  readonly tokens: number;
  /** Optimizer steps taken so far, from the device (device-decided steps only). */
  readonly stepsTaken?: number;
  /** The loss scale the step's backward used (device-decided steps only). */
  readonly lossScale?: number;
}

/** A recorded step whose outcome the GPU has not necessarily reached yet. */
export interface PendingStep {
  readonly tokens: number;
  readonly outcome: Promise<StepOutcome>;
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
  /**
   * WebGPU: decide clipping, the overflow skip and the loss scale on the GPU
   * (see {@link recordTrainStep}); its `maxNorm` is the clip, `gradClip` is
   * then unused.
   */
  readonly control?: DeviceStepControl;
}

const clearGradients = (params: Iterable<Tensor>): void => {
  for (const p of params) p.zeroGrad();
};

/** One micro-batch already on the step's backend; the caller owns (and disposes) its tensors. */
export interface PreparedBatch {
  /** Model input: `ids` `[batch, seqLen]` i32, and `docStart` (same shape) for packed corpora. */
  readonly input: ModelInput;
  /** Next-token labels `[batch, seqLen]` i32 (-100 where nothing is asked). */
  readonly targets: Tensor;
}

/**
 * A micro-batch as {@link accumulate} takes it. `tensors` runs inside the
 * micro-batch's `tidy`, so uploads made there are freed with it (prepared
 * tensors, made outside, are not) and happen one micro-batch at a time, as
 * each upload submits the work recorded before it.
 */
interface MicroBatch {
  readonly tokens: number;
  readonly tensors: () => PreparedBatch;
}

/** The micro-batches of `o`, uploaded from the host as they are reached. */
const uploaded = (o: TrainStepOptions): MicroBatch[] =>
  o.batches.map((batch) => ({
    tokens: batch.batchSize * batch.seqLen,
    tensors: () => ({
      input: batchInput(batch, o.backend, o.withDocStart),
      targets: tensor(batch.targets, {
        shape: [batch.batchSize, batch.seqLen],
        dtype: 'i32',
        backend: o.backend,
      }),
    }),
  }));

/**
 * Forward and backward over each micro-batch (gradients accumulate, each
 * micro-batch weighted 1/n); returns the summed loss (unscaled). With a loss
 * scale, each objective is multiplied by it before backward.
 */
function accumulate(
  model: ModelV1,
  micro: readonly MicroBatch[],
  lossScale: Tensor | null,
): { lossTotal: Tensor; tokens: number } {
  const n = micro.length;
  let lossTotal: Tensor | null = null;
  let tokens = 0;
  try {
    for (const mb of micro) {
      tokens += mb.tokens;
      const loss = tidy(() => {
        const { input, targets } = mb.tensors();
        const logits = model.forward(input, { training: true });
        const ce = crossEntropy(logits, targets);
        const aux = model.auxLoss?.() ?? null;
        const objective = aux ? ce.add(aux) : ce;
        const weighted = n > 1 ? objective.mul(1 / n) : objective;
        (lossScale ? weighted.mul(lossScale) : weighted).backward();
        return ce.detach();
      });
      if (lossTotal) {
        const sum: Tensor = noGrad(() => lossTotal!.add(loss));
        lossTotal.dispose();
        loss.dispose();
        lossTotal = sum;
      } else lossTotal = loss;
    }
  } catch (e) {
    lossTotal?.dispose();
    throw e;
  }
  return { lossTotal: lossTotal!, tokens };
}

/** Options of {@link recordDeviceStep}: a device-decided step over batches already on the GPU. */
export interface DeviceStepInput {
  readonly model: ModelV1;
  readonly trainable: ReadonlyMap<string, Tensor>;
  /** Must take device-decided steps (`AdamW.canStepOnDevice`: the fused WebGPU update). */
  readonly optimizer: AdamW;
  readonly lr: number;
  /** Decides clipping (its `maxNorm`), the overflow skip and the loss scale on the GPU. */
  readonly control: DeviceStepControl;
  /** Micro-batches, each `[batch, seqLen]`; not disposed (e.g. one fixed batch reused every step). */
  readonly batches: readonly PreparedBatch[];
}

/** A device-decided step as recorded: nothing of it has been read back yet. */
export interface RecordedDeviceStep {
  /** Tokens over the step's micro-batches. */
  readonly tokens: number;
  /**
   * The `[5]` f32 record of `DeviceStepControl.decide` (loss, norm, finite,
   * scale, steps): read it with `readRecord` when convenient, then dispose it.
   */
  readonly record: Tensor;
}

/**
 * The device-decided step: forward and backward over `micro` (loss-scaled
 * when `control` scales), the global gradient norm, `control.decide` and
 * `AdamW.stepOnDevice`, then the gradients cleared. Reads nothing back; the
 * caller reads (and disposes) the record, so it chooses when to wait.
 */
function recordOnDevice(
  o: Omit<DeviceStepInput, 'batches'>,
  micro: readonly MicroBatch[],
): RecordedDeviceStep {
  const { control } = o;
  const n = micro.length;
  try {
    const { lossTotal, tokens } = accumulate(o.model, micro, control.scaling ? control.lossScale : null);
    const mean = n > 1 ? noGrad(() => lossTotal.mul(1 / n)) : lossTotal;
    const norm = globalGradNorm(o.trainable.values());
    const record = control.decide(mean, norm);
    o.optimizer.stepOnDevice(o.lr, control.control);
    for (const t of new Set([lossTotal, mean, norm])) t.dispose();
    return { tokens, record };
  } finally {
    clearGradients(o.trainable.values());
  }
}

/**
 * Records one device-decided optimizer step over micro-batches already on
 * the GPU (ids and targets `[batch, seqLen]` i32), the sequence
 * {@link recordTrainStep} records with a control, without uploading: for
 * loops that keep their batches on the device (the e2e benchmark's fixed
 * batch). Returns the step's record unread, `[5]` f32 (see
 * {@link RecordedDeviceStep}); the caller reads it with `readRecord` and
 * disposes it.
 */
export function recordDeviceStep(o: DeviceStepInput): RecordedDeviceStep {
  return recordOnDevice(
    o,
    o.batches.map((batch) => ({ tokens: batch.input.ids.size, tensors: () => batch })),
  );
}

/**
 * One optimizer step, recorded: with a device step control, nothing is read
 * back (the GPU decides clipping, skip and loss scale, `AdamW.stepOnDevice`
 * updates), so the caller can record the next step before this one's outcome
 * arrives (the sequence of {@link recordDeviceStep}, each micro-batch
 * uploaded as it is reached); without, as {@link trainStep}.
 */
export function recordTrainStep(o: TrainStepOptions): PendingStep {
  const control = o.control;
  if (!control) {
    const outcome = trainStep(o);
    return { tokens: o.batches.reduce((t, b) => t + b.batchSize * b.seqLen, 0), outcome };
  }
  // Uploaded one micro-batch at a time, inside the shared sequence.
  const { tokens, record } = recordOnDevice({ ...o, control }, uploaded(o));
  const outcome = readRecord(record).then(
    (r): StepOutcome => ({
      loss: r.loss,
      gradNorm: r.gradNorm,
      finite: r.finite,
      tokens,
      stepsTaken: r.stepsTaken,
      lossScale: r.lossScale,
    }),
  );
  // The read already took its copy (it submits the recorded work): the record can go.
  record.dispose();
  return { tokens, outcome };
}

/**
 * One optimizer step: forward and backward over each micro-batch (gradients
 * accumulate, each micro-batch weighted 1/n), one read of loss and gradient
 * norm, then either the clipped AdamW update or, when anything is non-finite,
 * no update at all. With `control`, the device decides (see
 * {@link recordTrainStep}) and this waits for its outcome.
 */
export async function trainStep(o: TrainStepOptions): Promise<StepOutcome> {
  if (o.control) return recordTrainStep(o).outcome;
  const n = o.batches.length;
  let lossTotal: Tensor | null = null;
  try {
    const accumulated = accumulate(o.model, uploaded(o), null);
    lossTotal = accumulated.lossTotal;
    const norm = globalGradNorm(o.trainable.values());
    const [lossSum, gradNorm] = [await lossTotal.item(), await norm.item()];
    norm.dispose();
    const loss = lossSum / n;
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) o.optimizer.step(o.lr, clipScale(gradNorm, o.gradClip));
    return { loss, gradNorm, finite, tokens: accumulated.tokens };
  } finally {
    lossTotal?.dispose();
    clearGradients(o.trainable.values());
  }
}
