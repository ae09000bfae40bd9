import type { ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { type ConfigIssue, PositiveInt, PositiveNumber } from '../../config.js';
import { ChunkSize, convFields, linearConvSpec, validateConvStreams } from '../linear-common/fields.js';

/** One `gated-deltanet` layer entry (fla `GatedDeltaNet` layer). */
export const GatedDeltaNetMixerConfig = Schema.Struct({
  mixer: Schema.Literal('gated-deltanet'),
  nHeads: PositiveInt,
  /** Key (and query) head size K; default dModel / nHeads. */
  headDim: Schema.optionalKey(PositiveInt),
  /** Value head size V = expandV·K (fla default 2). */
  expandV: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))),
  /** Output gate `g_proj` with a gated RMSNorm (fla `use_gate`). */
  useGate: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  ...convFields,
  chunkSize: ChunkSize.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
});
export type GatedDeltaNetMixerConfig = typeof GatedDeltaNetMixerConfig.Type;

export interface GatedDeltaNetDims {
  readonly nHeads: number;
  readonly headK: number;
  readonly headV: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly chunkSize: number;
  readonly conv: ShortConvSpec | null;
}

export function gatedDeltaNetDims(c: GatedDeltaNetMixerConfig, dModel: number): GatedDeltaNetDims {
  const headK = c.headDim ?? Math.floor(dModel / c.nHeads);
  const headV = Math.round(headK * c.expandV);
  return {
    nHeads: c.nHeads,
    headK,
    headV,
    keyDim: c.nHeads * headK,
    valueDim: c.nHeads * headV,
    chunkSize: c.chunkSize,
    conv: linearConvSpec(c.conv, c.dsc),
  };
}

/** Cross-field problems of a Gated DeltaNet entry (paths relative to it). */
export function validateGatedDeltaNet(c: GatedDeltaNetMixerConfig, dModel: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (c.headDim === undefined && dModel % c.nHeads !== 0)
    issues.push({
      path: ['nHeads'],
      message: `nHeads ${c.nHeads} does not divide dModel ${dModel} (or set headDim)`,
    });
  const headK = c.headDim ?? Math.floor(dModel / c.nHeads);
  if (!Number.isInteger(headK * c.expandV))
    issues.push({
      path: ['expandV'],
      message: `expandV ${c.expandV} × head size ${headK} is not an integer`,
    });
  const d = gatedDeltaNetDims(c, dModel);
  issues.push(
    ...validateConvStreams(c, [
      ['q/k', d.keyDim],
      ['v', d.valueDim],
    ]),
  );
  return issues;
}
