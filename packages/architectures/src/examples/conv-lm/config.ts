import { Effect, Schema } from 'effect';
import type { StackSpec } from '../../blocks/stack.js';
import { crossFieldCheck, PositiveInt } from '../../config.js';
import { gatedConvMixer } from './mixer.js';

/**
 * Step 2: the architecture's config, an Effect Schema with defaults and a
 * cross-field check whose issues carry their paths.
 */
const Base = Schema.Struct({
  vocabSize: PositiveInt,
  dModel: PositiveInt,
  nLayers: PositiveInt,
  width: PositiveInt.check(Schema.isLessThanOrEqualTo(8)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(4)),
  ),
  mlpHidden: PositiveInt,
});
export const ConvLMConfig = Base.check(
  crossFieldCheck<typeof Base.Type>((c) =>
    c.mlpHidden < c.dModel
      ? [{ path: ['mlpHidden'], message: `mlpHidden ${c.mlpHidden} is narrower than dModel ${c.dModel}` }]
      : [],
  ),
);
export type ConvLMConfig = typeof Base.Type;

/**
 * Step 3: describe the model as a layer stack (embedding → blocks → norm → tied
 * head); `buildStack` provides forward, decoding, counts and parameter names.
 */
export const convLMStack = (c: ConvLMConfig): StackSpec => ({
  vocabSize: c.vocabSize,
  dModel: c.dModel,
  normEps: 1e-6,
  tieEmbeddings: true,
  initStd: 0.02,
  scaledOutputInit: true,
  layers: Array.from({ length: c.nLayers }, () => ({
    mixer: gatedConvMixer,
    config: { mixer: 'gated-conv', width: c.width, expand: 1 },
    mlp: { kind: 'swiglu', hidden: c.mlpHidden },
  })),
});
