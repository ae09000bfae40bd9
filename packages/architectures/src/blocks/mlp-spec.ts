import type { ShortConvSpec } from '@dynconv/layers';
import { linearParams, shortConvFlops, shortConvParams } from './counts.js';

/** The MLP half of a block (or none). Convs sit on the outputs of gate/up/down. */
export interface MlpSpec {
  readonly kind: 'swiglu' | 'gelu';
  readonly hidden: number;
  readonly convs?: {
    readonly gate?: ShortConvSpec;
    readonly up?: ShortConvSpec;
    readonly down?: ShortConvSpec;
  };
}

/** Llama-style default hidden width: ⌈8d/3⌉ rounded up to a multiple of 64 (d = 1024 → 2752). */
export const defaultMlpHidden = (dModel: number): number => Math.ceil((8 * dModel) / 3 / 64) * 64;

export function mlpParams(m: MlpSpec, dModel: number): number {
  const inputs = m.kind === 'swiglu' ? 2 : 1;
  let n = inputs * linearParams(dModel, m.hidden) + linearParams(m.hidden, dModel);
  const c = m.convs ?? {};
  if (c.gate) n += shortConvParams(c.gate, m.hidden, dModel);
  if (c.up) n += shortConvParams(c.up, m.hidden, dModel);
  if (c.down) n += shortConvParams(c.down, dModel, m.hidden);
  return n;
}

export function mlpForwardFlops(m: MlpSpec, dModel: number): number {
  const inputs = m.kind === 'swiglu' ? 2 : 1;
  let f = 2 * (inputs * dModel * m.hidden + m.hidden * dModel);
  const c = m.convs ?? {};
  if (c.gate) f += shortConvFlops(c.gate, m.hidden, dModel);
  if (c.up) f += shortConvFlops(c.up, m.hidden, dModel);
  if (c.down) f += shortConvFlops(c.down, dModel, m.hidden);
  return f;
}

/** Cache shapes of the MLP's convs (decode). */
export function mlpCacheShapesFromSpec(m: MlpSpec, dModel: number, batch: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  const c = m.convs ?? {};
  for (const [name, spec, width] of [
    ['gate_conv', c.gate, m.hidden],
    ['up_conv', c.up, m.hidden],
    ['down_conv', c.down, dModel],
  ] as const)
    if (spec && spec.width > 1) shapes[name] = [batch, spec.width - 1, width];
  return shapes;
}
