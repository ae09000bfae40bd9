import type { SequenceMode } from '@dynconv/layers';
import type { Backend, DType, Generator, Tensor } from '@dynconv/tensor';
import type { Schema } from 'effect';
import type { ConfigIssue } from '../config.js';

/** What a mixer knows about the model around it. */
export interface MixerContext {
  readonly dModel: number;
  readonly normEps: number;
  /** Init std of projections reading the residual stream. */
  readonly initStd: number;
  /** Init std of projections writing into the residual stream (scaled by 1/√(2L) by default). */
  readonly outStd: number;
}

export interface MixerInitContext extends MixerContext {
  readonly generator: Generator;
  readonly backend?: Backend;
}

/**
 * A token mixer: the sequence-mixing half of a residual block (attention,
 * and next Mamba-2, Gated DeltaNet, GLA). The `hybrid` architecture stacks
 * one mixer per layer, each followed by an MLP; the `transformer` plugin uses
 * the `attention` mixer in every layer. Register with `mixers.register(m)` in
 * the mixer folder's `index.ts`.
 *
 * `C` is the decoded per-layer config: its schema must have a field
 * `mixer: Schema.Literal(name)`. `P` is the parameter tree (a plain object
 * whose tensor leaves are parameters named as in Hugging Face).
 */
export interface MixerV1<C extends { readonly mixer: string } = { readonly mixer: string }, P = unknown> {
  readonly specificationVersion: 'v1';
  readonly name: string;
  readonly description: string;
  /** Module name under `model.layers.{i}` (HF: `self_attn` for attention, `mixer` for Mamba). */
  readonly moduleName: string;
  /** Schema of one layer entry (with defaults). */
  readonly configSchema: Schema.Codec<C, unknown>;
  /** Cross-field problems of one decoded entry, paths relative to the entry. */
  validate(config: C, ctx: Pick<MixerContext, 'dModel'>): readonly ConfigIssue[];
  init(config: C, ctx: MixerInitContext): P;
  /** `x [B, T, d]` (normed block input) → `[B, T, d]` (added to the residual stream). Sequence or decode-step mode. */
  apply(params: P, x: Tensor, mode: SequenceMode): Tensor;
  /** Empty decode caches by name (zeroed conv caches, initial recurrent states). */
  initCache(params: P, batch: number, placement: { backend?: Backend; dtype?: DType }): Map<string, Tensor>;
  /** Shapes of the decode caches for `batch` sequences of at most `maxLength` tokens. */
  cacheShapes(
    config: C,
    ctx: Pick<MixerContext, 'dModel'>,
    batch: number,
    maxLength: number,
  ): Record<string, number[]>;
  parameterCount(config: C, ctx: Pick<MixerContext, 'dModel'>): number;
  /** Forward FLOPs per token at `seqLen` (see `blocks/counts.ts` for the convention). */
  forwardFlopsPerToken(config: C, ctx: Pick<MixerContext, 'dModel'>, seqLen: number): number;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds mixers of every config type
export type AnyMixer = MixerV1<any, any>;
