import {
  type Backend,
  Generator,
  keep,
  matmul,
  noGrad,
  randn,
  type Tensor,
  tidy,
  zeros,
} from '@dynconv/tensor';

/** One adapted weight: W = W0 + scale·B·A with W0 frozen, A [r, in] and B [out, r] trained. */
interface Adapter {
  readonly name: string;
  readonly weight: Tensor;
  readonly base: Tensor;
  readonly a: Tensor;
  readonly b: Tensor;
}

/**
 * LoRA (Hu et al. 2021) on any model, without the model's cooperation: the
 * adapted weights are rewritten in place as W0 + s·B·A before each forward,
 * and after backward the weight gradient G is mapped to the adapters by the
 * chain rule (dA = s·Bᵀ·G, dB = s·G·Aᵀ). That is exactly LoRA's gradient,
 * at the price of materialising G (cheap at probe sizes).
 */
export class LoraAdapters {
  private readonly adapters: Adapter[];
  readonly scale: number;

  constructor(
    weights: ReadonlyMap<string, Tensor>,
    readonly rank: number,
    options: { readonly backend: Backend; readonly seed?: number; readonly alpha?: number },
  ) {
    // alpha = rank gives scale 1 (a common default; PEFT's is alpha = 8).
    this.scale = (options.alpha ?? rank) / rank;
    const generator = new Generator(options.seed ?? 0);
    this.adapters = noGrad(() =>
      [...weights].map(([name, weight]) => {
        const [out, inp] = weight.shape as [number, number];
        weight.requireGrad(true); // G is needed; W itself is never updated by the optimizer
        return {
          name,
          weight,
          base: keep(weight.detach().mul(1)),
          a: keep(
            randn([rank, inp], { backend: options.backend, generator }).mul(1 / Math.sqrt(inp)),
          ).requireGrad(),
          b: keep(zeros([out, rank], { backend: options.backend })).requireGrad(),
        };
      }),
    );
  }

  /** The trainable adapter tensors, named `<weight>.lora_A` / `.lora_B`. */
  parameters(): Map<string, Tensor> {
    return new Map(
      this.adapters.flatMap((x) => [[`${x.name}.lora_A`, x.a] as const, [`${x.name}.lora_B`, x.b] as const]),
    );
  }

  /** Adapter parameters: Σ r·(in + out). */
  parameterCount(): number {
    return this.adapters.reduce((n, x) => n + x.a.size + x.b.size, 0);
  }

  /** Writes W = W0 + s·B·A into every adapted weight. */
  merge(): void {
    noGrad(() =>
      tidy(() => {
        for (const x of this.adapters) {
          const merged = x.base.add(matmul(x.b, x.a).mul(this.scale));
          x.weight.backend.copy(merged.view(), x.weight.view());
        }
      }),
    );
  }

  /** Moves the weight gradients onto the adapters (and clears them from the weights). */
  mapGradients(): void {
    noGrad(() => {
      for (const x of this.adapters) {
        const g = x.weight.grad;
        if (!g) continue;
        const [ga, gb] = tidy(
          () => [keep(matmul(x.b.T, g).mul(this.scale)), keep(matmul(g, x.a.T).mul(this.scale))] as const,
        );
        x.a.setGrad(ga);
        x.b.setGrad(gb);
        x.weight.zeroGrad();
      }
    });
  }

  dispose(): void {
    for (const x of this.adapters) {
      x.base.dispose();
      x.a.dispose();
      x.b.dispose();
    }
  }
}
