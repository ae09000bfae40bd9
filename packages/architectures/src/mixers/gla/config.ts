import type { ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { type ConfigIssue, PositiveInt, PositiveNumber } from '../../config.js';
import { ChunkSize, convFields, linearConvSpec, validateConvStreams } from '../linear-common/fields.js';

/** One `gla` layer entry (fla `GatedLinearAttention` layer). */
export const GlaMixerConfig = Schema.Struct({
  mixer: Schema.Literal('gla'),
  nHeads: PositiveInt,
  /** Key width = expandK·dModel (fla default 0.5). */
  expandK: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.5))),
  /** Value width = expandV·dModel (fla default 1). */
  expandV: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  /** Rank of the low-rank decay projection `gk_proj`. */
  gateLowRankDim: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(16))),
  /** `log α = logsigmoid(gk_proj x) / gateLogitNormalizer`. */
  gateLogitNormalizer: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(16))),
  /** Output gate `g_proj` with a gated RMSNorm (fla `use_output_gate`). */
  useOutputGate: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  ...convFields,
  /** GLA's intra-chunk decay tensor is Q×Q×K per chunk, so it prefers small chunks. */
  chunkSize: ChunkSize.pipe(Schema.withDecodingDefaultKey(Effect.succeed(16))),
});
export type GlaMixerConfig = typeof GlaMixerConfig.Type;

export interface GlaDims {
  readonly nHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly headK: number;
  readonly headV: number;
  readonly gateRank: number;
  readonly chunkSize: number;
  readonly conv: ShortConvSpec | null;
}

export function glaDims(c: GlaMixerConfig, dModel: number): GlaDims {
  const keyDim = Math.round(dModel * c.expandK);
  const valueDim = Math.round(dModel * c.expandV);
  return {
    nHeads: c.nHeads,
    keyDim,
    valueDim,
    headK: Math.floor(keyDim / c.nHeads),
    headV: Math.floor(valueDim / c.nHeads),
    gateRank: c.gateLowRankDim,
    chunkSize: c.chunkSize,
    conv: linearConvSpec(c.conv, c.dsc),
  };
}

/** Cross-field problems of a GLA entry (paths relative to it). */
export function validateGla(c: GlaMixerConfig, dModel: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [field, expand] of [
    ['expandK', c.expandK],
    ['expandV', c.expandV],
  ] as const) {
    const width = dModel * expand;
    if (!Number.isInteger(width))
      issues.push({ path: [field], message: `${field} ${expand} × dModel ${dModel} is not an integer` });
    else if (width % c.nHeads !== 0)
      issues.push({
        path: ['nHeads'],
        message: `nHeads ${c.nHeads} does not divide ${field} × dModel = ${width}`,
      });
  }
  const d = glaDims(c, dModel);
  issues.push(
    ...validateConvStreams(c, [
      ['q/k', d.keyDim],
      ['v', d.valueDim],
    ]),
  );
  return issues;
}
