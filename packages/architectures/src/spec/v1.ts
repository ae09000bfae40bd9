import type { Backend, Tensor } from '@dynconv/tensor';
import type { Schema } from 'effect';

/**
 * The architecture plugin contract, version 1. A plugin is one folder that
 * exports an `ArchitectureV1` and registers it (`registry.register(plugin)`).
 * The trainer, the CLI and the research workflows consume only this.
 */

/** One training/eval batch as the model sees it. */
export interface ModelInput {
  /** Token ids, i32 `[batch, seqLen]`. */
  readonly ids: Tensor;
  /**
   * Optional packed-document information, i32 `[batch, seqLen]`: for each
   * token, the position (within its row) where its document starts. Attention
   * and short convolutions do not look across document starts.
   */
  readonly docStart?: Tensor;
}

/** Per-sequence decoding caches (KV cache, short-convolution caches, recurrent states). */
export interface DecodeState {
  /** Tokens already consumed per sequence. */
  readonly position: number;
  /** Named cache tensors, owned by the state (`disposeState` frees them). */
  readonly tensors: ReadonlyMap<string, Tensor>;
}

/** A built model: named parameters plus pure-ish apply functions over them. */
export interface ModelV1 {
  readonly specificationVersion: 'v1';
  /** Parameters with PyTorch/Hugging-Face-style names, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  readonly parameters: ReadonlyMap<string, Tensor>;
  /** Names of parameters that get no weight decay (norms, biases, DSC filters). */
  readonly noDecay: ReadonlySet<string>;
  /** Logits `[batch, seqLen, vocab]`. Differentiable w.r.t. the parameters. */
  forward(input: ModelInput, options?: { readonly training?: boolean }): Tensor;
  /** Auxiliary losses of the last forward (e.g. MoE load balancing), already weighted; empty if none. */
  auxLoss?(): Tensor | null;
  /** An empty decoding state for `batch` sequences of at most `maxLength` tokens. */
  initState(batch: number, maxLength: number): DecodeState;
  /** Consumes `ids [batch, n]` (prefill when n > 1) and returns logits `[batch, n, vocab]` and the new state. */
  step(ids: Tensor, state: DecodeState): { logits: Tensor; state: DecodeState };
  disposeState(state: DecodeState): void;
  /** Frees every parameter. */
  dispose(): void;
}

export interface BuildOptions {
  readonly backend?: Backend;
  /** Seed of the parameter initialisation. */
  readonly seed?: number;
}

/** An architecture plugin. `Config` is the decoded (defaults-filled) config type. */
export interface ArchitectureV1<Config = unknown> {
  readonly specificationVersion: 'v1';
  /** Registry name, e.g. `transformer`, `mamba2`, `hybrid`. */
  readonly name: string;
  readonly description: string;
  /** Effect Schema of the config, with defaults; decoding reports every problem with its path. */
  readonly configSchema: Schema.Codec<Config, unknown>;
  build(config: Config, options?: BuildOptions): ModelV1;
  /** Exact number of parameters (tied weights counted once). */
  parameterCount(config: Config): number;
  /** Training FLOPs per token (forward + backward) at `seqLen`, attention included. */
  flopsPerToken(config: Config, seqLen: number): number;
  /** Shapes of the decode-state tensors for `batch` sequences of at most `maxLength` tokens. */
  decodeStateShapes(config: Config, batch: number, maxLength: number): Record<string, readonly number[]>;
}
