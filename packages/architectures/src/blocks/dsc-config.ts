import { MAX_RANK, MAX_WIDTH } from '@dynconv/kernels-webgpu';
import type { ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { PositiveInt } from '../config.js';

/** Settings of the short convolutions (static or dynamic) a config places. */
export const DscConfig = Schema.Struct({
  /** Dynamic filter generator: low-rank (the DSC paper's main variant) or head-wise. */
  variant: Schema.Literals(['low-rank', 'head-wise']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('low-rank' as const)),
  ),
  /** Low-rank generator rank R (at most the fused kernels' limit). */
  rank: PositiveInt.check(Schema.isLessThanOrEqualTo(MAX_RANK)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(16)),
  ),
  /** Filter width W (taps x_t … x_{t−W+1}). */
  width: PositiveInt.check(Schema.isLessThanOrEqualTo(MAX_WIDTH)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(4)),
  ),
  /** Head-wise: channels sharing one generated filter. */
  headSize: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(16))),
  /** A separate learned static filter added to the generated one (DSC `static_w`). */
  staticFilter: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
});
export type DscConfig = typeof DscConfig.Type;

/** The paper's defaults: low-rank, R = 16, W = 4, head size 16, static filter on. */
export const defaultDsc: DscConfig = {
  variant: 'low-rank',
  rank: 16,
  width: 4,
  headSize: 16,
  staticFilter: true,
};

/** The layer spec of a static (residual) or dynamic short conv with these settings. */
export const convSpec = (dsc: DscConfig, kind: 'static' | 'dynamic'): ShortConvSpec =>
  kind === 'static'
    ? { kind: 'static', width: dsc.width, residual: true }
    : dsc.variant === 'low-rank'
      ? { kind: 'low-rank', width: dsc.width, rank: dsc.rank, staticFilter: dsc.staticFilter, residual: true }
      : {
          kind: 'head-wise',
          width: dsc.width,
          headSize: dsc.headSize,
          staticFilter: dsc.staticFilter,
          residual: true,
        };
