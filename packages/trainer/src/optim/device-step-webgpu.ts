import { empty, gpuBufferOf, keep, noGrad, type Tensor, tensor, WebGPUBackend } from '@dynconv/tensor';

/**
 * The decisions between backward and the optimizer update, made on the GPU so
 * that a training loop never waits for a read-back inside a step: the host
 * records step n+1 while the GPU still runs step n, and reads each step's
 * loss and gradient norm later (see {@link DeviceStepControl.decide}).
 *
 * Per step, one single-thread dispatch reads the loss and the global norm of
 * the (loss-scaled) gradients and writes:
 * - the skip flag: the loss or the norm is NaN/Inf (the update is skipped and
 *   the step does not count, as in PyTorch's GradScaler);
 * - the gradient factor `clip / lossScale` (clip as {@link clipScale});
 * - the AdamW bias corrections of the step count after this step;
 * - the next loss scale (dynamic scaling: halve on overflow, double after
 *   `growthInterval` finite steps in a row).
 * The fused AdamW ({@link makeFusedAdamWUpdate} with `AdamW.stepOnDevice`)
 * reads them from {@link DeviceStepControl.control}.
 */

/** Loss-scaling options; omitted: no scaling (factor 1, never changes). */
export interface DynamicLossScale {
  /** First scale (PyTorch's default 2^16). */
  readonly initial: number;
  /** Finite steps in a row before the scale doubles (PyTorch: 2000). */
  readonly growthInterval: number;
}

export interface DeviceStepOptions {
  /** Global-norm clipping threshold; 0 turns clipping off. */
  readonly maxNorm: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly lossScale?: DynamicLossScale;
}

/** Dynamic loss scaling's state: the scale, and finite steps in a row since it last changed. */
export interface LossScalerState {
  readonly scale: number;
  readonly goodSteps: number;
}

/** What the host reads back about one step, after the GPU ran it. */
export interface DeviceStepRecord {
  /** The unscaled loss the step's `loss` tensor held. */
  readonly loss: number;
  /** Global gradient norm before clipping, unscaled. */
  readonly gradNorm: number;
  /** False when the update was skipped (non-finite loss or gradient). */
  readonly finite: boolean;
  /** The loss scale the step's backward used. */
  readonly lossScale: number;
  /** Optimizer steps taken, this one included when it was finite. */
  readonly stepsTaken: number;
}

/** Layout of the control buffer (f32 words). */
export const CONTROL = {
  /** Gradient multiplier of the update: clip factor / loss scale. */
  factor: 0,
  /** 1 / (1 - beta1^t). */
  invBias1: 1,
  /** 1 / sqrt(1 - beta2^t). */
  invSqrtBias2: 2,
  /** 1 when the update is skipped. */
  skip: 3,
  /** Optimizer steps taken (exact in f32 up to 2^24). */
  steps: 4,
  /** Finite steps since the loss scale last changed. */
  good: 5,
  words: 8,
} as const;

const WGSL = /* wgsl */ `
struct Params {
  max_norm: f32,
  beta1: f32,
  beta2: f32,
  growth_interval: f32, // 0: static scale
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> ctl: array<f32, ${CONTROL.words}>;
@group(0) @binding(2) var<storage, read_write> scale: array<f32, 1>;
@group(0) @binding(3) var<storage, read> loss: array<f32, 1>;
@group(0) @binding(4) var<storage, read> norm: array<f32, 1>;
@group(0) @binding(5) var<storage, read_write> record: array<f32, 5>;

// By the exponent bits: a compiler may fold x - x == 0 or isnan away.
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

@compute @workgroup_size(1)
fn main() {
  let s = scale[0];
  let gn = norm[0] / s;
  let finite = is_finite(loss[0]) && is_finite(gn);
  record[0] = loss[0];
  record[1] = gn;
  record[2] = select(0.0, 1.0, finite);
  record[3] = s;
  var t = ctl[${CONTROL.steps}];
  var good = ctl[${CONTROL.good}];
  if (finite) {
    t += 1.0;
    let clip = select(1.0, u.max_norm / (gn + 1e-6), u.max_norm > 0.0 && gn > u.max_norm);
    ctl[${CONTROL.factor}] = clip / s;
    ctl[${CONTROL.invBias1}] = 1.0 / (1.0 - pow(u.beta1, t));
    ctl[${CONTROL.invSqrtBias2}] = 1.0 / sqrt(1.0 - pow(u.beta2, t));
    ctl[${CONTROL.skip}] = 0.0;
    good += 1.0;
    if (u.growth_interval > 0.0 && good >= u.growth_interval) {
      scale[0] = s * 2.0;
      good = 0.0;
    }
  } else {
    ctl[${CONTROL.skip}] = 1.0;
    good = 0.0;
    if (u.growth_interval > 0.0) { scale[0] = s * 0.5; }
  }
  ctl[${CONTROL.steps}] = t;
  ctl[${CONTROL.good}] = good;
  record[4] = t;
}`;

/** Device-side clipping, overflow skip, bias corrections and loss scaling for one WebGPU training run. */
export class DeviceStepControl {
  /** The control words the fused AdamW reads (layout {@link CONTROL}), `[8]` f32. */
  readonly control: Tensor;
  /** The loss scale for the next backward, a `[]` f32 tensor updated in place (1 without scaling). */
  readonly lossScale: Tensor;
  /** Whether the loss is scaled (dynamic loss scaling on): multiply it by {@link lossScale} before backward. */
  readonly scaling: boolean;
  private readonly uniforms: Float32Array;

  constructor(
    private readonly backend: WebGPUBackend,
    options: DeviceStepOptions,
    /** Where a resumed run left off: optimizer steps taken, and the loss scaler's state. */
    resume: { readonly stepsTaken?: number; readonly scaler?: LossScalerState } = {},
  ) {
    const scale = options.lossScale;
    if (scale && !(scale.initial > 0 && scale.growthInterval >= 1))
      throw new RangeError('lossScale: initial must be > 0 and growthInterval >= 1');
    this.scaling = scale !== undefined;
    const words = new Float32Array(CONTROL.words);
    words[CONTROL.steps] = resume.stepsTaken ?? 0;
    words[CONTROL.good] = scale ? (resume.scaler?.goodSteps ?? 0) : 0;
    const initial = scale ? (resume.scaler?.scale ?? scale.initial) : 1;
    this.control = noGrad(() => keep(tensor(words, { shape: [CONTROL.words], backend })));
    this.lossScale = noGrad(() => keep(tensor([initial], { shape: [], backend })));
    this.uniforms = new Float32Array([
      options.maxNorm,
      options.beta1,
      options.beta2,
      scale?.growthInterval ?? 0,
    ]);
  }

  /**
   * Decides the step from `loss` (`[]` or `[1]`, unscaled) and `norm` (the
   * global norm of the loss-scaled gradients, as `globalGradNorm` returns
   * it). Call after backward and before `AdamW.stepOnDevice`. Returns a
   * `[5]` tensor (loss, norm, finite, scale, steps): read it whenever
   * convenient with {@link readRecord}; the caller disposes it.
   */
  decide(loss: Tensor, norm: Tensor): Tensor {
    for (const [name, t] of [
      ['loss', loss],
      ['norm', norm],
    ] as const)
      if (t.size !== 1 || t.dtype !== 'f32' || !(t.backend instanceof WebGPUBackend))
        throw new TypeError(
          `DeviceStepControl.decide: ${name} must be one f32 element on the WebGPU backend`,
        );
    const rt = this.backend.runtime;
    // Written whole by the kernel: no host upload (an upload would flush the open batch).
    const record = empty(this.backend, [5], 'f32');
    const at = (t: Tensor) => {
      if (t.offset !== 0) throw new TypeError('DeviceStepControl.decide: views are not supported');
      return gpuBufferOf(t.storage.buffer);
    };
    rt.dispatch({
      pipelineKey: 'trainer.stepControl',
      makeCode: () => WGSL,
      bindings: [
        { buffer: at(this.control), write: true },
        { buffer: at(this.lossScale), write: true },
        { buffer: at(loss) },
        { buffer: at(norm) },
        { buffer: at(record), write: true },
      ],
      uniforms: this.uniforms,
      workgroups: 1,
    });
    return record;
  }

  /** The loss scaler's state after the recorded steps (waits for the GPU), e.g. for a checkpoint. */
  async scalerState(): Promise<LossScalerState> {
    const [scale] = (await this.lossScale.data()) as Float32Array;
    const words = (await this.control.data()) as Float32Array;
    return { scale: scale!, goodSteps: words[CONTROL.good]! };
  }

  /** Frees the control and scale tensors. */
  dispose(): void {
    this.control.dispose();
    this.lossScale.dispose();
  }
}

/** The host view of a {@link DeviceStepControl.decide} record (waits for the GPU to get there). */
export async function readRecord(record: Tensor): Promise<DeviceStepRecord> {
  const [loss, gradNorm, finite, lossScale, stepsTaken] = (await record.data()) as Float32Array;
  return {
    loss: loss!,
    gradNorm: gradNorm!,
    finite: finite === 1,
    lossScale: lossScale!,
    stepsTaken: stepsTaken!,
  };
}
