import { keep, noGrad, type Tensor, tidy, unaryRaw, zerosLike } from '@dynconv/tensor';
import type { ParamGroup } from './param-groups.js';

/** AdamW hyperparameters that do not change during a run (the lr does, per step). */
export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/** Everything an AdamW needs to continue exactly where it stopped. */
export interface AdamWState {
  /** Optimizer steps taken (the bias corrections use it). */
  readonly step: number;
  /** First and second moments per parameter name. */
  readonly expAvg: ReadonlyMap<string, Tensor>;
  readonly expAvgSq: ReadonlyMap<string, Tensor>;
}

/** The inputs of one parameter's AdamW update (see {@link AdamWUpdate}). */
export interface AdamWUpdateArgs {
  readonly p: Tensor;
  readonly g: Tensor;
  readonly m: Tensor;
  readonly v: Tensor;
  readonly lr: number;
  readonly weightDecay: number;
  readonly gradScale: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** 1 - beta1^t and 1 - beta2^t for the step being taken. */
  readonly bias1: number;
  readonly bias2: number;
  /**
   * A device step control's words (`DeviceStepControl.control`): the
   * gradient factor, bias corrections and skip flag are read from it on the
   * GPU, and `gradScale`, `bias1`, `bias2` are ignored. Fused update only.
   */
  readonly control?: Tensor;
}

/**
 * One parameter's fused AdamW update: computes the new parameter and moments
 * from the old ones. Implementations: {@link composedAdamWUpdate} (tensor ops,
 * any backend, the reference) and the WebGPU kernel (one dispatch).
 * `p` is updated in place; `m`/`v` are returned (possibly the same tensors).
 *
 * `batch`, when present, updates many parameters at once (the WebGPU version:
 * several parameters per dispatch) with the same results as calling the
 * update on each; {@link AdamW} prefers it.
 */
export type AdamWUpdate = ((args: AdamWUpdateArgs) => { m: Tensor; v: Tensor }) & {
  readonly batch?: (items: readonly AdamWUpdateArgs[]) => Array<{ m: Tensor; v: Tensor }>;
};

/**
 * AdamW (Loshchilov & Hutter) from tensor ops, written as PyTorch does it:
 * `p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
 * p -= (lr / bias1) * m / (sqrt(v) / sqrt(bias2) + eps)`, with `g` the
 * gradient times `gradScale` (clipping). The new parameter is copied into the
 * parameter's own storage so the model keeps its tensor.
 */
export const composedAdamWUpdate: AdamWUpdate = (a) =>
  tidy(() => {
    const g = a.gradScale === 1 ? a.g : unaryRaw('affine', a.g, a.gradScale, 0);
    const m = unaryRaw('affine', a.m, a.beta1, 0).add(unaryRaw('affine', g, 1 - a.beta1, 0));
    const v = unaryRaw('affine', a.v, a.beta2, 0).add(unaryRaw('affine', g.square(), 1 - a.beta2, 0));
    const denom = unaryRaw('affine', v.sqrt(), 1 / Math.sqrt(a.bias2), a.eps);
    const update = unaryRaw('affine', m.div(denom), a.lr / a.bias1, 0);
    const decayed = a.weightDecay === 0 ? a.p : unaryRaw('affine', a.p, 1 - a.lr * a.weightDecay, 0);
    const next = decayed.sub(update);
    a.p.backend.copy(next.view(), a.p.view());
    return { m: keep(m), v: keep(v) };
  });

/**
 * AdamW with decoupled weight decay over parameter groups. Moments live on
 * the parameters' backend; `step` consumes each parameter's `.grad` (already
 * accumulated over micro-batches) and leaves gradients to the caller.
 */
export class AdamW {
  private t = 0;
  private readonly m = new Map<string, Tensor>();
  private readonly v = new Map<string, Tensor>();
  private readonly decayOf = new Map<string, number>();

  constructor(
    private readonly parameters: ReadonlyMap<string, Tensor>,
    groups: readonly ParamGroup[],
    private readonly options: AdamWOptions,
    private readonly update: AdamWUpdate = composedAdamWUpdate,
  ) {
    for (const group of groups) for (const name of group.params) this.decayOf.set(name, group.weightDecay);
    noGrad(() => {
      for (const [name, p] of parameters) {
        if (!this.decayOf.has(name)) this.decayOf.set(name, 0);
        this.m.set(name, keep(zerosLike(p)));
        this.v.set(name, keep(zerosLike(p)));
      }
    });
  }

  /** Whether {@link stepOnDevice} works (the fused WebGPU update). */
  get canStepOnDevice(): boolean {
    return this.update.batch !== undefined;
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /** Applies one update with learning rate `lr`; gradients are multiplied by `gradScale` first. */
  step(lr: number, gradScale = 1): void {
    this.t++;
    const { beta1, beta2 } = this.options;
    this.apply(lr, gradScale, 1 - beta1 ** this.t, 1 - beta2 ** this.t, undefined);
  }

  /**
   * Records one update whose gradient factor, skip decision and bias
   * corrections the GPU decides (`DeviceStepControl.decide`, called before):
   * nothing is read back, so the host can go on recording the next step.
   * The step count then lives on the device (its records' `stepsTaken`);
   * {@link syncStepCount} brings {@link stepCount} up to date. Needs the
   * fused WebGPU update and whole f32 parameters and gradients.
   */
  stepOnDevice(lr: number, control: Tensor): void {
    if (!this.update.batch) throw new TypeError('AdamW.stepOnDevice needs the fused WebGPU update');
    this.apply(lr, Number.NaN, Number.NaN, Number.NaN, control);
  }

  /** Sets the step count from the device (a `DeviceStepRecord.stepsTaken`), e.g. before a checkpoint. */
  syncStepCount(stepsTaken: number): void {
    this.t = stepsTaken;
  }

  private apply(
    lr: number,
    gradScale: number,
    bias1: number,
    bias2: number,
    control: Tensor | undefined,
  ): void {
    const { beta1, beta2, eps } = this.options;
    noGrad(() => {
      const names: string[] = [];
      const items: AdamWUpdateArgs[] = [];
      for (const [name, p] of this.parameters) {
        if (!p.grad) continue;
        names.push(name);
        items.push({
          p,
          g: p.grad,
          m: this.m.get(name)!,
          v: this.v.get(name)!,
          lr,
          weightDecay: this.decayOf.get(name)!,
          gradScale,
          beta1,
          beta2,
          eps,
          bias1,
          bias2,
          ...(control ? { control } : {}),
        });
      }
      // Moments that an update replaced are freed at once (the composed path: one parameter's temporaries at a time).
      const settle = (out: { m: Tensor; v: Tensor }, i: number) => {
        const { m, v } = items[i]!;
        if (out.m !== m) {
          m.dispose();
          this.m.set(names[i]!, out.m);
        }
        if (out.v !== v) {
          v.dispose();
          this.v.set(names[i]!, out.v);
        }
      };
      if (this.update.batch) this.update.batch(items).forEach(settle);
      else for (let i = 0; i < items.length; i++) settle(this.update(items[i]!), i);
    });
  }

  /** The current state (tensors stay owned by the optimizer). */
  state(): AdamWState {
    return { step: this.t, expAvg: this.m, expAvgSq: this.v };
  }

  /**
   * Restores a saved state: moments (on the same backend) are copied into the
   * optimizer's own tensors; the caller validates names and shapes beforehand.
   */
  loadState(state: {
    readonly step: number;
    readonly expAvg: ReadonlyMap<string, Tensor>;
    readonly expAvgSq: ReadonlyMap<string, Tensor>;
  }): void {
    this.t = state.step;
    for (const [name, mine] of this.m) {
      const src = state.expAvg.get(name);
      if (src) mine.backend.copy(src.view(), mine.view());
    }
    for (const [name, mine] of this.v) {
      const src = state.expAvgSq.get(name);
      if (src) mine.backend.copy(src.view(), mine.view());
    }
  }

  /** Frees the moments. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
