import {
  type Backend,
  type DType,
  full,
  type Generator,
  keep,
  rand,
  randn,
  type Tensor,
  tidy,
} from '@dynconv/tensor';

/**
 * What every `init*` function needs: a random stream (required, so that two
 * models built with the same seed are identical on every backend) and where
 * the parameters live.
 */
export interface InitOptions {
  /** Random stream the initialisation draws from (advanced by each draw). */
  readonly generator: Generator;
  readonly backend?: Backend;
  /** Parameter dtype (default f32). */
  readonly dtype?: DType;
}

/**
 * Turns a freshly made tensor into a parameter: a leaf that requires
 * gradients and belongs to no scope (the model's `dispose()` frees it).
 */
export const asParameter = (t: Tensor): Tensor => keep(t).requireGrad();

const placement = (o: { readonly backend?: Backend; readonly dtype?: DType }) => ({
  ...(o.backend ? { backend: o.backend } : {}),
  ...(o.dtype ? { dtype: o.dtype } : {}),
});

/** A parameter drawn from N(0, std²). */
export const normalParameter = (shape: readonly number[], std: number, o: InitOptions): Tensor =>
  asParameter(
    tidy(() => {
      const z = randn(shape, { generator: o.generator, ...placement(o) });
      return std === 1 ? z : z.mul(std);
    }),
  );

/** A parameter drawn from U(-bound, bound). */
export const uniformParameter = (shape: readonly number[], bound: number, o: InitOptions): Tensor =>
  asParameter(
    tidy(() =>
      rand(shape, { generator: o.generator, ...placement(o) })
        .mul(2 * bound)
        .sub(bound),
    ),
  );

/** A parameter filled with `value` (zeros by default). Needs no random stream. */
export const constantParameter = (
  shape: readonly number[],
  o: { readonly backend?: Backend; readonly dtype?: DType },
  value = 0,
): Tensor => asParameter(full(shape, value, placement(o)));
