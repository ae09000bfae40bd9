import type { StackSpec } from '@dynconv/architectures';
import {
  embed,
  initEmbedding,
  initLinear,
  initMLP,
  initRMSNorm,
  mlpSublayer,
  namedParameters,
  rmsNorm,
  type SequenceMode,
} from '@dynconv/layers';
import { type Backend, Generator, keep, noGrad, type Tensor, tidy } from '@dynconv/tensor';

type Block = Record<string, unknown> & {
  input_layernorm: ReturnType<typeof initRMSNorm>;
  post_attention_layernorm?: ReturnType<typeof initRMSNorm>;
  mlp?: ReturnType<typeof initMLP>;
};

/** A stack with its parameter tree exposed, so the residual stream can be read between blocks. */
export interface LayerwiseStack {
  readonly spec: StackSpec;
  readonly blocks: readonly Block[];
  readonly embedTokens: ReturnType<typeof initEmbedding>;
  /** Same names as the plugin-built model (`model.layers.{i}.self_attn.q_proj.weight`, ...). */
  readonly parameters: ReadonlyMap<string, Tensor>;
  dispose(): void;
}

/**
 * Builds the parameter tree of a stack the way `buildStack` does (same init
 * order, same names), so checkpoint weights load into it by name. DtR needs
 * this view: the distillation targets are every attention block's input and
 * output, which the plugin model's `forward` does not expose.
 */
export const buildLayerwiseStack = (spec: StackSpec, backend: Backend, seed = 0): LayerwiseStack => {
  const generator = new Generator(seed);
  const place = { backend };
  const outStd = spec.scaledOutputInit ? spec.initStd / Math.sqrt(2 * spec.layers.length) : spec.initStd;
  const ctx = {
    dModel: spec.dModel,
    normEps: spec.normEps,
    initStd: spec.initStd,
    outStd,
    generator,
    backend,
  };
  const embedTokens = initEmbedding({
    numEmbeddings: spec.vocabSize,
    embeddingDim: spec.dModel,
    std: spec.initStd,
    generator,
    backend,
  });
  const blocks: Block[] = spec.layers.map((l) => {
    const block: Block = { input_layernorm: initRMSNorm({ dim: spec.dModel, eps: spec.normEps, ...place }) };
    block[l.mixer.moduleName] = l.mixer.init(l.config, ctx);
    if (l.mlp) {
      block.post_attention_layernorm = initRMSNorm({ dim: spec.dModel, eps: spec.normEps, ...place });
      block.mlp = initMLP({
        kind: l.mlp.kind,
        dModel: spec.dModel,
        hidden: l.mlp.hidden,
        ...(l.mlp.convs ? { convs: l.mlp.convs } : {}),
        std: spec.initStd,
        outStd,
        generator,
        backend,
      });
    }
    return block;
  });
  const tree: Record<string, unknown> = {
    model: {
      embed_tokens: embedTokens,
      layers: blocks,
      norm: initRMSNorm({ dim: spec.dModel, eps: spec.normEps, ...place }),
    },
  };
  if (!spec.tieEmbeddings)
    tree['lm_head'] = initLinear({
      inFeatures: spec.dModel,
      outFeatures: spec.vocabSize,
      init: spec.initStd,
      generator,
      backend,
    });
  const parameters = namedParameters(tree);
  return {
    spec,
    blocks,
    embedTokens,
    parameters,
    dispose: () => {
      for (const p of parameters.values()) p.dispose();
    },
  };
};

/** Each block's mixer input (the normed residual stream) and output, detached. */
export interface BlockActivations {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  dispose(): void;
}

/**
 * Runs the stack on `ids` without gradients and returns, for every layer, the
 * normed block input x_ℓ and the mixer output y_ℓ (what the block adds to the
 * residual stream before its MLP): the teacher signal of blockwise local
 * distillation.
 */
export const captureMixerActivations = (
  stack: LayerwiseStack,
  ids: Tensor,
  docStart?: Tensor,
): BlockActivations => {
  const mode: SequenceMode = { kind: 'sequence', ...(docStart ? { docStart } : {}) };
  const inputs: Tensor[] = [];
  const outputs: Tensor[] = [];
  noGrad(() =>
    tidy(() => {
      let h = embed(stack.embedTokens, ids);
      stack.spec.layers.forEach((layer, i) => {
        const block = stack.blocks[i]!;
        const x = rmsNorm(block.input_layernorm, h);
        const y = layer.mixer.apply(block[layer.mixer.moduleName], x, mode);
        inputs.push(keep(x));
        outputs.push(keep(y));
        h = h.add(y);
        if (block.mlp && block.post_attention_layernorm)
          h = h.add(mlpSublayer(block.mlp, rmsNorm(block.post_attention_layernorm, h), mode));
      });
    }),
  );
  return {
    inputs,
    outputs,
    dispose: () => {
      for (const t of [...inputs, ...outputs]) t.dispose();
    },
  };
};
