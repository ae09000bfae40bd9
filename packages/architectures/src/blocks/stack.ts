import {
  addRmsNorm,
  type Embedding,
  embed,
  initEmbedding,
  initLinear,
  initMLP,
  initMLPCache,
  initRMSNorm,
  type Linear,
  type MLP,
  mlpSublayer,
  namedParameters,
  outputLogits,
  type RMSNorm,
  rmsNorm,
  type SequenceMode,
} from '@dynconv/layers';
import { Generator, getDefaultBackend, noGrad, type Tensor, tidy } from '@dynconv/tensor';
import type { AnyMixer } from '../mixers/types.js';
import type { BuildOptions, DecodeState, ModelInput, ModelV1 } from '../spec/v1.js';
import { type MlpSpec, mlpCacheShapesFromSpec, mlpForwardFlops, mlpParams } from './mlp-spec.js';

/**
 * The shared causal-LM skeleton behind `transformer` and `hybrid`:
 * token embedding → L pre-norm residual blocks
 * (`x += mixer(RMSNorm(x))`, then `x += MLP(RMSNorm(x))` when the layer has one)
 * → final RMSNorm → output head (tied to the embedding or not).
 *
 * Parameter names (Hugging Face Llama layout):
 * `model.embed_tokens.weight`, `model.layers.{i}.input_layernorm.weight`,
 * `model.layers.{i}.{mixer module}.*` (attention: `self_attn.{q,k,v,o}_proj.weight`, …),
 * `model.layers.{i}.post_attention_layernorm.weight`, `model.layers.{i}.mlp.{gate,up,down}_proj.weight`,
 * `model.norm.weight`, and `lm_head.weight` when untied.
 */
export interface StackLayer {
  readonly mixer: AnyMixer;
  /** The mixer's decoded layer config. */
  readonly config: { readonly mixer: string };
  readonly mlp: MlpSpec | null;
  /**
   * A sublayer that replaces the MLP (e.g. a mixture of experts), with the
   * mixer interface: `x += feedForward(RMSNorm(x))`, parameters under
   * `model.layers.{i}.{moduleName}`. Use with `mlp: null`.
   */
  readonly feedForward?: { readonly mixer: AnyMixer; readonly config: { readonly mixer: string } };
}

export interface StackSpec {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly normEps: number;
  readonly tieEmbeddings: boolean;
  /** N(0, std²) init of embeddings and input projections. */
  readonly initStd: number;
  /** Scale the init of projections that write into the residual stream by 1/√(2L) (GPT-2). */
  readonly scaledOutputInit: boolean;
  readonly layers: readonly StackLayer[];
}

export function stackParameterCount(s: StackSpec): number {
  const ctx = { dModel: s.dModel };
  let n = s.vocabSize * s.dModel + s.dModel; // embedding + final norm
  if (!s.tieEmbeddings) n += s.vocabSize * s.dModel;
  for (const l of s.layers) {
    n += s.dModel + l.mixer.parameterCount(l.config, ctx);
    if (l.mlp) n += s.dModel + mlpParams(l.mlp, s.dModel);
    if (l.feedForward) n += s.dModel + l.feedForward.mixer.parameterCount(l.feedForward.config, ctx);
  }
  return n;
}

/** Training FLOPs per token (3 × forward; see `counts.ts`), the output head included, the embedding lookup not. */
export function stackFlopsPerToken(s: StackSpec, seqLen: number): number {
  const ctx = { dModel: s.dModel };
  let f = 2 * s.dModel * s.vocabSize;
  for (const l of s.layers) {
    f += l.mixer.forwardFlopsPerToken(l.config, ctx, seqLen);
    if (l.mlp) f += mlpForwardFlops(l.mlp, s.dModel);
    if (l.feedForward) f += l.feedForward.mixer.forwardFlopsPerToken(l.feedForward.config, ctx, seqLen);
  }
  return 3 * f;
}

/** Decode-state tensor names and their shapes at `maxLength` tokens (KV caches grow up to that). */
export function stackStateShapes(
  s: StackSpec,
  batch: number,
  maxLength: number,
): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  s.layers.forEach((l, i) => {
    for (const [k, shape] of Object.entries(
      l.mixer.cacheShapes(l.config, { dModel: s.dModel }, batch, maxLength),
    ))
      out[`layers.${i}.${l.mixer.moduleName}.${k}`] = shape;
    if (l.mlp)
      for (const [k, shape] of Object.entries(mlpCacheShapesFromSpec(l.mlp, s.dModel, batch)))
        out[`layers.${i}.mlp.${k}`] = shape;
    const ff = l.feedForward;
    if (ff)
      for (const [k, shape] of Object.entries(
        ff.mixer.cacheShapes(ff.config, { dModel: s.dModel }, batch, maxLength),
      ))
        out[`layers.${i}.${ff.mixer.moduleName}.${k}`] = shape;
  });
  return out;
}

type BlockParams = { input_layernorm: RMSNorm; post_attention_layernorm?: RMSNorm; mlp?: MLP } & Record<
  string,
  unknown
>;

interface StackParams {
  model: { embed_tokens: Embedding; layers: BlockParams[]; norm: RMSNorm };
  lm_head?: Linear;
}

/** A decode state that also remembers its limits. */
interface StackDecodeState extends DecodeState {
  readonly batch: number;
  readonly maxLength: number;
}

/** Parameters without weight decay: norms and biases (rank 1) and every short-conv parameter. */
const isNoDecay = (name: string, t: Tensor): boolean => t.rank === 1 || /_conv\./.test(name);

export function buildStack(s: StackSpec, options: BuildOptions = {}): ModelV1 {
  const backend = options.backend ?? getDefaultBackend();
  const generator = new Generator(options.seed ?? 0);
  const place = { backend };
  const outStd = s.scaledOutputInit ? s.initStd / Math.sqrt(2 * s.layers.length) : s.initStd;
  const ctx = { dModel: s.dModel, normEps: s.normEps, initStd: s.initStd, outStd, generator, backend };

  // Initialisation order is part of the seed contract: embedding, layers in order, final norm, head.
  const embed_tokens = initEmbedding({
    numEmbeddings: s.vocabSize,
    embeddingDim: s.dModel,
    std: s.initStd,
    generator,
    backend,
  });
  const layers: BlockParams[] = s.layers.map((l) => {
    const block: BlockParams = { input_layernorm: initRMSNorm({ dim: s.dModel, eps: s.normEps, ...place }) };
    block[l.mixer.moduleName] = l.mixer.init(l.config, ctx);
    if (l.mlp) {
      block.post_attention_layernorm = initRMSNorm({ dim: s.dModel, eps: s.normEps, ...place });
      block.mlp = initMLP({
        kind: l.mlp.kind,
        dModel: s.dModel,
        hidden: l.mlp.hidden,
        ...(l.mlp.convs ? { convs: l.mlp.convs } : {}),
        std: s.initStd,
        outStd,
        generator,
        backend,
      });
    }
    if (l.feedForward) {
      block.post_attention_layernorm = initRMSNorm({ dim: s.dModel, eps: s.normEps, ...place });
      block[l.feedForward.mixer.moduleName] = l.feedForward.mixer.init(l.feedForward.config, ctx);
    }
    return block;
  });
  const params: StackParams = {
    model: { embed_tokens, layers, norm: initRMSNorm({ dim: s.dModel, eps: s.normEps, ...place }) },
  };
  if (!s.tieEmbeddings)
    params.lm_head = initLinear({
      inFeatures: s.dModel,
      outFeatures: s.vocabSize,
      init: s.initStd,
      generator,
      backend,
    });

  const parameters = namedParameters(params);
  const noDecay = new Set([...parameters].filter(([n, t]) => isNoDecay(n, t)).map(([n]) => n));

  /**
   * The residual stream and the sublayer output not yet added to it: the next norm
   * adds it (`addRmsNorm`: the add and its gradient ride in the norm's kernels).
   */
  type Stream = { h: Tensor; delta: Tensor | null };
  const normed = (p: RMSNorm, st: Stream): Tensor => {
    if (!st.delta) return rmsNorm(p, st.h);
    const { sum, y } = addRmsNorm(p, st.h, st.delta);
    st.h = sum;
    st.delta = null;
    return y;
  };
  const runBlocks = (x: Tensor, modeFor: (i: number, part: string) => SequenceMode): Stream => {
    const st: Stream = { h: x, delta: null };
    const sublayer = (norm: RMSNorm, apply: (y: Tensor) => Tensor) => {
      const y = normed(norm, st);
      st.delta = apply(y);
    };
    s.layers.forEach((l, i) => {
      const block = layers[i]!;
      sublayer(block.input_layernorm, (y) =>
        l.mixer.apply(block[l.mixer.moduleName], y, modeFor(i, l.mixer.moduleName)),
      );
      const norm = block.post_attention_layernorm;
      if (l.mlp && block.mlp && norm) sublayer(norm, (y) => mlpSublayer(block.mlp!, y, modeFor(i, 'mlp')));
      const ff = l.feedForward;
      if (ff && norm)
        sublayer(norm, (y) => ff.mixer.apply(block[ff.mixer.moduleName], y, modeFor(i, ff.mixer.moduleName)));
    });
    return st;
  };
  const head = (st: Stream): Tensor =>
    outputLogits(embed_tokens, normed(params.model.norm, st), params.lm_head);

  const model: ModelV1 = {
    specificationVersion: 'v1',
    parameters,
    noDecay,

    forward: (input: ModelInput): Tensor =>
      tidy(() => {
        const mode: SequenceMode = {
          kind: 'sequence',
          ...(input.docStart ? { docStart: input.docStart } : {}),
        };
        return head(runBlocks(embed(embed_tokens, input.ids), () => mode));
      }),

    initState(batch: number, maxLength: number): StackDecodeState {
      const tensors = new Map<string, Tensor>();
      s.layers.forEach((l, i) => {
        const block = layers[i]!;
        for (const [k, t] of l.mixer.initCache(block[l.mixer.moduleName], batch, place))
          tensors.set(`layers.${i}.${l.mixer.moduleName}.${k}`, t);
        if (l.mlp && block.mlp)
          for (const [k, t] of initMLPCache(block.mlp, batch, place)) tensors.set(`layers.${i}.mlp.${k}`, t);
        const ff = l.feedForward;
        if (ff)
          for (const [k, t] of ff.mixer.initCache(block[ff.mixer.moduleName], batch, place))
            tensors.set(`layers.${i}.${ff.mixer.moduleName}.${k}`, t);
      });
      return { position: 0, tensors, batch, maxLength };
    },

    /** Consumes `state` (its tensors are freed or move into the returned state). */
    step(ids: Tensor, state: DecodeState) {
      const st = state as StackDecodeState;
      const [batch, n] = ids.shape as [number, number];
      if (batch !== st.batch)
        throw new Error(`step: ids have batch ${batch}, the state was made for ${st.batch}`);
      if (st.position + n > st.maxLength)
        throw new Error(`step: ${st.position} + ${n} tokens exceed the state's maxLength ${st.maxLength}`);
      const next = new Map<string, Tensor>();
      const logits = noGrad(() =>
        tidy(() => {
          const modes = new Map<string, SequenceMode & { kind: 'step' }>();
          const modeFor = (i: number, part: string) => {
            const prefix = `layers.${i}.${part}.`;
            const cache = new Map<string, Tensor>();
            for (const [k, t] of st.tensors) if (k.startsWith(prefix)) cache.set(k.slice(prefix.length), t);
            const mode = {
              kind: 'step',
              position: st.position,
              cache,
              next: new Map<string, Tensor>(),
            } as const;
            modes.set(prefix, mode);
            return mode;
          };
          const out = head(runBlocks(embed(embed_tokens, ids), modeFor));
          for (const [prefix, mode] of modes) for (const [k, t] of mode.next) next.set(prefix + k, t);
          return out;
        }),
      );
      // Caches a step did not rewrite carry over; the replaced ones are freed.
      for (const [k, t] of st.tensors) {
        if (next.has(k)) t.dispose();
        else next.set(k, t);
      }
      const newState: StackDecodeState = {
        position: st.position + n,
        tensors: next,
        batch,
        maxLength: st.maxLength,
      };
      return { logits, state: newState };
    },

    disposeState(state: DecodeState) {
      for (const t of state.tensors.values()) t.dispose();
    },

    dispose() {
      for (const t of parameters.values()) t.dispose();
    },
  };
  return model;
}
