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

/**
 * One parameter's fused AdamW update: computes the new parameter and moments
 * from the old ones. Implementations: {@link composedAdamWUpdate} (tensor ops,
 * any backend, the reference) and the WebGPU kernel (one dispatch).
 * `p` is updated in place; `m`/`v` are returned (possibly the same tensors).
 */
export type AdamWUpdate = (args: {
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
}) => { m: Tensor; v: Tensor };

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

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /** Applies one update with learning rate `lr`; gradients are multiplied by `gradScale` first. */
  step(lr: number, gradScale = 1): void {
    this.t++;
    const { beta1, beta2, eps } = this.options;
    const bias1 = 1 - beta1 ** this.t;
    const bias2 = 1 - beta2 ** this.t;
    noGrad(() => {
      for (const [name, p] of this.parameters) {
        if (!p.grad) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const out = this.update({
          p,
          g: p.grad,
          m,
          v,
          lr,
          weightDecay: this.decayOf.get(name)!,
          gradScale,
          beta1,
          beta2,
          eps,
          bias1,
          bias2,
        });
        if (out.m !== m) {
          m.dispose();
          this.m.set(name, out.m);
        }
        if (out.v !== v) {
          v.dispose();
          this.v.set(name, out.v);
        }
      }
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
