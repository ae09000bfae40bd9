import { MAX_CHUNK_SIZE } from '@dynconv/kernels-webgpu';
import type { ShortConvSpec } from '@dynconv/layers';
import { Effect, Schema } from 'effect';
import { convSpec, type DscConfig, DscConfig as DscSchema, defaultDsc } from '../../blocks/dsc-config.js';
import type { ConfigIssue } from '../../config.js';

/**
 * Config fields and helpers shared by the linear-recurrent mixers (`mamba2`,
 * `gated-deltanet`, `gla`).
 */

/** Short convs of a linear mixer: none, the architecture's static conv, or DSC replacing it. */
export const LinearConv = Schema.Literals(['none', 'static', 'dynamic']);
export type LinearConv = typeof LinearConv.Type;

/** Tokens per chunk of the chunked scan: a power of two in 1..256. */
export const ChunkSize = Schema.Int.check(
  Schema.isBetween({ minimum: 1, maximum: MAX_CHUNK_SIZE }),
  Schema.makeFilter((n: number) => ((n & (n - 1)) === 0 ? undefined : `must be a power of two, got ${n}`)),
);

export const convFields = {
  /**
   * `static`: the architecture's own causal depthwise conv (+ SiLU).
   * `dynamic`: DSC (low-rank or head-wise, `dsc`) replaces it, generator input
   * = the normed block input, fused into the input projections, residual on,
   * SiLU kept (method.md §1.5). `none`: no conv.
   */
  conv: LinearConv.pipe(Schema.withDecodingDefaultKey(Effect.succeed('static' as const))),
  /** DSC settings; `width` is also the static conv's width. */
  dsc: DscSchema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultDsc))),
};

/**
 * The short-conv spec of a linear mixer stream: the static conv of Mamba-2 /
 * fla (`residual: false`, SiLU applied by the mixer), or DSC (residual on).
 */
export function linearConvSpec(
  conv: LinearConv,
  dsc: DscConfig,
  options: { bias?: boolean } = {},
): ShortConvSpec | null {
  if (conv === 'none') return null;
  if (conv === 'static')
    return { kind: 'static', width: dsc.width, residual: false, ...(options.bias ? { bias: true } : {}) };
  return convSpec(dsc, 'dynamic');
}

/** Head-wise DSC needs its head size to divide every convolved stream. */
export function validateConvStreams(
  c: { conv: LinearConv; dsc: DscConfig },
  streams: readonly [string, number][],
): ConfigIssue[] {
  if (c.conv !== 'dynamic' || c.dsc.variant !== 'head-wise') return [];
  return streams
    .filter(([, width]) => width % c.dsc.headSize !== 0)
    .map(([name, width]) => ({
      path: ['dsc', 'headSize'],
      message: `head size ${c.dsc.headSize} does not divide the ${name} stream width ${width}`,
    }));
}
