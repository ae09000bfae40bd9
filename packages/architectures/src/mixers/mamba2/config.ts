import type { ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { type ConfigIssue, PositiveInt, PositiveNumber } from '../../config.js';
import { ChunkSize, convFields, linearConvSpec, validateConvStreams } from '../linear-common/fields.js';

/** One `mamba2` layer entry (Mamba-2 block as in `mamba_ssm` `Mamba2Simple`). */
export const Mamba2MixerConfig = Schema.Struct({
  mixer: Schema.Literal('mamba2'),
  /** SSM state size N per head. */
  dState: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
  /** Head size P; must divide expand·dModel. */
  headDim: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
  /** Inner width = expand·dModel. */
  expand: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))),
  /** Groups of heads sharing B and C; must divide the head count. */
  nGroups: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  ...convFields,
  chunkSize: ChunkSize.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
  /** Range of the initial step sizes dt (log-uniform). */
  dtMin: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.001))),
  dtMax: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.1))),
});
export type Mamba2MixerConfig = typeof Mamba2MixerConfig.Type;

/** Everything derived from a Mamba-2 config and dModel. */
export interface Mamba2Dims {
  readonly dInner: number;
  readonly nHeads: number;
  readonly headDim: number;
  readonly dState: number;
  readonly nGroups: number;
  /** Channels of the convolved stream xBC: dInner + 2·G·N. */
  readonly convDim: number;
  /** in_proj width: z, xBC, dt. */
  readonly inProj: number;
  readonly chunkSize: number;
  readonly conv: ShortConvSpec | null;
}

export function mamba2Dims(c: Mamba2MixerConfig, dModel: number): Mamba2Dims {
  const dInner = c.expand * dModel;
  const nHeads = Math.floor(dInner / c.headDim);
  const convDim = dInner + 2 * c.nGroups * c.dState;
  return {
    dInner,
    nHeads,
    headDim: c.headDim,
    dState: c.dState,
    nGroups: c.nGroups,
    convDim,
    inProj: dInner + convDim + nHeads,
    chunkSize: c.chunkSize,
    conv: linearConvSpec(c.conv, c.dsc, { bias: true }),
  };
}

/** Cross-field problems of a Mamba-2 entry (paths relative to it). */
export function validateMamba2(c: Mamba2MixerConfig, dModel: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const dInner = c.expand * dModel;
  if (dInner % c.headDim !== 0)
    issues.push({
      path: ['headDim'],
      message: `headDim ${c.headDim} does not divide expand·dModel = ${c.expand}·${dModel} = ${dInner}`,
    });
  else if ((dInner / c.headDim) % c.nGroups !== 0)
    issues.push({
      path: ['nGroups'],
      message: `nGroups ${c.nGroups} does not divide the ${dInner / c.headDim} heads`,
    });
  if (!(c.dtMin < c.dtMax))
    issues.push({ path: ['dtMax'], message: `dtMax ${c.dtMax} must exceed dtMin ${c.dtMin}` });
  issues.push(...validateConvStreams(c, [['xBC', dInner + 2 * c.nGroups * c.dState]]));
  return issues;
}
