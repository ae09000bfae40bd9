import { type Backend, type DType, gelu, silu, type Tensor, tidy } from '@dynconv/tensor';
import { layerFusion } from './fused/gpu.js';
import { swiglu, swigluPacked } from './fused/swiglu.js';
import type { InitOptions } from './init.js';
import { fusedLinear, fusedLinearPacked, initLinear, type Linear } from './linear.js';
import {
  convGenerator,
  initShortConv,
  initShortConvCache,
  type ShortConv,
  type ShortConvSpec,
} from './short-conv.js';
import { convStream, type SequenceMode } from './stream.js';

/**
 * SwiGLU MLP (Llama): `down(SiLU(gate(x)) ⊙ up(x))`, no biases by default.
 * Optional short convs on the gate/up/down outputs; a dynamic conv's generator
 * input is that projection's input, so gate/up generators fuse with gate/up.
 */
export type SwiGLU = {
  readonly kind: 'swiglu';
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  gate_conv?: ShortConv;
  up_conv?: ShortConv;
  down_conv?: ShortConv;
};

/** GELU MLP (GPT-2 / NeoX): `down(GELU(up(x)))`. */
export type GeluMLP = {
  readonly kind: 'gelu';
  readonly approximate: 'none' | 'tanh';
  up_proj: Linear;
  down_proj: Linear;
  up_conv?: ShortConv;
  down_conv?: ShortConv;
};

export type MLP = SwiGLU | GeluMLP;

export interface MLPOptions extends InitOptions {
  readonly kind: 'swiglu' | 'gelu';
  readonly dModel: number;
  readonly hidden: number;
  readonly bias?: boolean;
  /** GELU variant (default exact). */
  readonly approximate?: 'none' | 'tanh';
  readonly convs?: {
    readonly gate?: ShortConvSpec;
    readonly up?: ShortConvSpec;
    readonly down?: ShortConvSpec;
  };
  /** Init std of the input projections (default 0.02) and of down_proj (default: same). */
  readonly std?: number;
  readonly outStd?: number;
}

export function initMLP(o: MLPOptions): MLP {
  const std = o.std ?? 0.02;
  const lin = (inFeatures: number, outFeatures: number, init: number) =>
    initLinear({ ...o, inFeatures, outFeatures, bias: o.bias ?? false, init });
  const c = o.convs ?? {};
  const conv = (spec: ShortConvSpec | undefined, channels: number, generatorDim: number) =>
    spec ? initShortConv(spec, { ...o, channels, generatorDim }) : undefined;
  if (o.kind === 'swiglu') {
    const p: SwiGLU = {
      kind: 'swiglu',
      gate_proj: lin(o.dModel, o.hidden, std),
      up_proj: lin(o.dModel, o.hidden, std),
      down_proj: lin(o.hidden, o.dModel, o.outStd ?? std),
    };
    const gate = conv(c.gate, o.hidden, o.dModel);
    const up = conv(c.up, o.hidden, o.dModel);
    const down = conv(c.down, o.dModel, o.hidden);
    if (gate) p.gate_conv = gate;
    if (up) p.up_conv = up;
    if (down) p.down_conv = down;
    return p;
  }
  if (c.gate) throw new Error('gelu MLP has no gate projection to convolve');
  const p: GeluMLP = {
    kind: 'gelu',
    approximate: o.approximate ?? 'none',
    up_proj: lin(o.dModel, o.hidden, std),
    down_proj: lin(o.hidden, o.dModel, o.outStd ?? std),
  };
  const up = conv(c.up, o.hidden, o.dModel);
  const down = conv(c.down, o.dModel, o.hidden);
  if (up) p.up_conv = up;
  if (down) p.down_conv = down;
  return p;
}

/** Projections reading the same input, plus the generators of their dynamic convs, in one matmul. */
function projectWithConvs(
  x: Tensor,
  projs: readonly { name: string; proj: Linear; conv: ShortConv | undefined }[],
  mode: SequenceMode,
): Tensor[] {
  const gens = projs.map((p) => (p.conv ? convGenerator(p.conv) : null));
  const outs = fusedLinear([...projs.map((p) => p.proj), ...gens.filter((g): g is Linear => g !== null)], x);
  let next = projs.length;
  return projs.map((p, i) => convStream(p.name, p.conv, outs[i]!, gens[i] ? outs[next++] : undefined, mode));
}

/** The MLP in either mode: `x [B, T, d] → [B, T, d]`. Step mode keeps caches `{gate,up,down}_conv`. */
export function mlpSublayer(p: MLP, x: Tensor, mode: SequenceMode): Tensor {
  return tidy(() => {
    let act: Tensor;
    if (p.kind === 'swiglu' && layerFusion.enabled && !p.gate_conv && !p.up_conv) {
      // One packed [.., 2·hidden] projection; the fused kernel's backward writes its packed gradient.
      act = swigluPacked(fusedLinearPacked([p.gate_proj, p.up_proj], x));
    } else if (p.kind === 'swiglu') {
      const [gate, up] = projectWithConvs(
        x,
        [
          { name: 'gate_conv', proj: p.gate_proj, conv: p.gate_conv },
          { name: 'up_conv', proj: p.up_proj, conv: p.up_conv },
        ],
        mode,
      );
      act = layerFusion.enabled ? swiglu(gate!, up!) : silu(gate!).mul(up!);
    } else {
      const [up] = projectWithConvs(x, [{ name: 'up_conv', proj: p.up_proj, conv: p.up_conv }], mode);
      act = gelu(up!, p.approximate);
    }
    return projectWithConvs(act, [{ name: 'down_conv', proj: p.down_proj, conv: p.down_conv }], mode)[0]!;
  });
}

/** Sequence form: `x [B, T, d] → [B, T, d]`. */
export const mlp = (p: MLP, x: Tensor, o: { readonly docStart?: Tensor } = {}): Tensor =>
  mlpSublayer(p, x, { kind: 'sequence', ...o });

const mlpConvs = (p: MLP): [string, ShortConv | undefined][] =>
  p.kind === 'swiglu'
    ? [
        ['gate_conv', p.gate_conv],
        ['up_conv', p.up_conv],
        ['down_conv', p.down_conv],
      ]
    : [
        ['up_conv', p.up_conv],
        ['down_conv', p.down_conv],
      ];

/** Zeroed decode caches of the MLP's convs (empty map when it has none). */
export function initMLPCache(
  p: MLP,
  batch: number,
  placement: { backend?: Backend; dtype?: DType } = {},
): Map<string, Tensor> {
  const cache = new Map<string, Tensor>();
  for (const [name, c] of mlpConvs(p)) {
    const t = c ? initShortConvCache(c, batch, placement) : null;
    if (t) cache.set(name, t);
  }
  return cache;
}

/** Cache names and shapes for `batch` sequences. */
export function mlpCacheShapes(p: MLP, batch: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const [name, c] of mlpConvs(p))
    if (c && c.width > 1) {
      const channels = name === 'down_conv' ? p.down_proj.weight.shape[0]! : p.up_proj.weight.shape[0]!;
      shapes[name] = [batch, c.width - 1, channels];
    }
  return shapes;
}
