import { add, div, mul, noGrad, sqrt, square, sub, type Tensor, tidy, zerosLike } from '@dynconv/tensor';

export interface AdamWOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

/**
 * AdamW (decoupled weight decay) built from tensor ops, so it runs on
 * whichever backend holds the parameters. Updates are written back into the
 * parameters' own storage: the model keeps its tensors.
 */
export class AdamW {
  private readonly moments = new Map<string, { m: Tensor; v: Tensor }>();
  private t = 0;

  constructor(
    private readonly parameters: ReadonlyMap<string, Tensor>,
    private readonly noDecay: ReadonlySet<string>,
    private readonly options: AdamWOptions,
  ) {}

  /** One update from the accumulated gradients, which it then clears. */
  step(lr = this.options.lr): void {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = this.options;
    this.t++;
    const c1 = 1 / (1 - beta1 ** this.t);
    const c2 = 1 / (1 - beta2 ** this.t);
    noGrad(() => {
      for (const [name, p] of this.parameters) {
        const g = p.grad;
        if (!g) continue;
        const state = this.moments.get(name) ?? { m: zerosLike(p), v: zerosLike(p) };
        this.moments.set(name, state);
        const decay = this.noDecay.has(name) ? 0 : weightDecay;
        const [m, v, next] = tidy(() => {
          const m = add(mul(state.m, beta1), mul(g, 1 - beta1));
          const v = add(mul(state.v, beta2), mul(square(g), 1 - beta2));
          const update = div(mul(m, c1), add(sqrt(mul(v, c2)), eps));
          const decayed = decay ? mul(p, 1 - lr * decay) : p;
          return [m, v, sub(decayed, mul(update, lr))];
        });
        overwrite(state.m, m);
        overwrite(state.v, v);
        overwrite(p, next);
        p.zeroGrad();
      }
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}

/** Copies `source` into `target`'s storage, then frees `source`. */
function overwrite(target: Tensor, source: Tensor): void {
  target.backend.copy(source.view(), target.view());
  source.dispose();
}
