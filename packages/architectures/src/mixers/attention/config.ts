import { preProjectionHidden, type ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { convSpec, DscConfig, defaultDsc } from '../../blocks/dsc-config.js';
import { type ConfigIssue, Fraction, PositiveInt, PositiveNumber } from '../../config.js';

/**
 * Fields of an attention sublayer. Shared by the `attention` mixer entry of
 * a hybrid config and by the top level of a transformer config (same names,
 * so validation paths read the same in both).
 */
export const attentionFields = {
  nHeads: PositiveInt,
  /** Key/value heads (grouped-query attention); default nHeads. Must divide nHeads. */
  nKvHeads: Schema.optionalKey(PositiveInt),
  /** Default dModel / nHeads. */
  headDim: Schema.optionalKey(PositiveInt),
  /** RMSNorm on each q and k head before RoPE. */
  qkNorm: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  ropeTheta: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(10000))),
  /** Fraction of each head that rotates (partial rotary). */
  rotaryFraction: Fraction.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  /** Short-conv settings used by `conv` (and by the MLP convs of a transformer's `dynamic-all-linear`). */
  dsc: DscConfig.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultDsc))),
  /** Pre-projection MLP on the attention input (`on`), plus the content skip (`on+skip`). */
  preProjection: Schema.Literals(['off', 'on', 'on+skip']).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed('off' as const)),
  ),
  /** Hidden width factor of the pre-projection (paper: 1.25). */
  preProjectionExpansion: PositiveNumber.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1.25))),
};

/** Where short convs sit inside the attention sublayer. */
export const AttentionConvPlacement = Schema.Literals(['none', 'static-qkv', 'dynamic-qkv', 'dynamic-qkvo']);
export type AttentionConvPlacement = typeof AttentionConvPlacement.Type;

/** One `attention` layer entry of a hybrid config. */
export const AttentionMixerConfig = Schema.Struct({
  mixer: Schema.Literal('attention'),
  ...attentionFields,
  /** `static-qkv` / `dynamic-qkv`: convs on q, k, v; `dynamic-qkvo` also on the o_proj output. */
  conv: AttentionConvPlacement.pipe(Schema.withDecodingDefaultKey(Effect.succeed('none' as const))),
});
export type AttentionMixerConfig = typeof AttentionMixerConfig.Type;

/** Everything derived from an attention config and dModel. */
export interface AttentionDims {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** Query width nHeads·headDim and key/value width nKvHeads·headDim. */
  readonly dq: number;
  readonly dkv: number;
  readonly convs: {
    readonly q?: ShortConvSpec;
    readonly k?: ShortConvSpec;
    readonly v?: ShortConvSpec;
    readonly o?: ShortConvSpec;
  };
  /** Pre-projection hidden width, or 0 when off. */
  readonly preHidden: number;
  readonly skip: boolean;
}

export function attentionDims(c: AttentionMixerConfig, dModel: number): AttentionDims {
  const headDim = c.headDim ?? dModel / c.nHeads;
  const nKvHeads = c.nKvHeads ?? c.nHeads;
  const convs: { q?: ShortConvSpec; k?: ShortConvSpec; v?: ShortConvSpec; o?: ShortConvSpec } = {};
  if (c.conv !== 'none') {
    const spec = convSpec(c.dsc, c.conv === 'static-qkv' ? 'static' : 'dynamic');
    convs.q = spec;
    convs.k = spec;
    convs.v = spec;
    if (c.conv === 'dynamic-qkvo') convs.o = spec;
  }
  return {
    nHeads: c.nHeads,
    nKvHeads,
    headDim,
    dq: c.nHeads * headDim,
    dkv: nKvHeads * headDim,
    convs,
    preHidden: c.preProjection === 'off' ? 0 : preProjectionHidden(dModel, c.preProjectionExpansion),
    skip: c.preProjection === 'on+skip',
  };
}

/** Cross-field problems of an attention config (paths relative to it). */
export function validateAttention(c: AttentionMixerConfig, dModel: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (c.headDim === undefined && dModel % c.nHeads !== 0)
    issues.push({
      path: ['nHeads'],
      message: `nHeads ${c.nHeads} does not divide dModel ${dModel} (or set headDim)`,
    });
  if (c.nKvHeads !== undefined && c.nHeads % c.nKvHeads !== 0)
    issues.push({ path: ['nKvHeads'], message: `nKvHeads ${c.nKvHeads} does not divide nHeads ${c.nHeads}` });
  const headDim = c.headDim ?? Math.floor(dModel / c.nHeads);
  const rotary = Math.round(headDim * c.rotaryFraction);
  if (rotary < 2 || rotary % 2 !== 0)
    issues.push({
      path: ['rotaryFraction'],
      message: `rotary width round(${headDim} × ${c.rotaryFraction}) = ${rotary} must be even and at least 2`,
    });
  if (c.conv !== 'none' && c.conv !== 'static-qkv' && c.dsc.variant === 'head-wise') {
    const nKv = c.nKvHeads ?? c.nHeads;
    const streams: [string, number][] = [
      ['q', c.nHeads * headDim],
      ['k/v', nKv * headDim],
      ...(c.conv === 'dynamic-qkvo' ? ([['o', dModel]] as [string, number][]) : []),
    ];
    for (const [name, width] of streams)
      if (width % c.dsc.headSize !== 0)
        issues.push({
          path: ['dsc', 'headSize'],
          message: `head size ${c.dsc.headSize} does not divide the ${name} stream width ${width}`,
        });
  }
  if (c.preProjection !== 'off' && preProjectionHidden(dModel, c.preProjectionExpansion) < 1)
    issues.push({
      path: ['preProjectionExpansion'],
      message: `expansion ${c.preProjectionExpansion} × dModel ${dModel} leaves no hidden units`,
    });
  return issues;
}
