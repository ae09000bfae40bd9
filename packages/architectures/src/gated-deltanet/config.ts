import { Schema } from 'effect';
import type { StackSpec } from '../blocks/stack.js';
import { uniformStack, uniformStackFields } from '../blocks/uniform-stack.js';
import { crossFieldCheck } from '../config.js';
import {
  GatedDeltaNetMixerConfig as Entry,
  type GatedDeltaNetMixerConfig,
  gatedDeltaNetMixer,
  validateGatedDeltaNet,
} from '../mixers/gated-deltanet/index.js';

const { mixer: _mixer, ...mixerFields } = Entry.fields;
const Base = Schema.Struct({ ...uniformStackFields('swiglu'), ...mixerFields });
export type GatedDeltaNetConfig = typeof Base.Type;

/** The `gated-deltanet` mixer entry of every layer. */
export const gatedDeltaNetEntry = (c: GatedDeltaNetConfig): GatedDeltaNetMixerConfig => ({
  mixer: 'gated-deltanet',
  nHeads: c.nHeads,
  ...(c.headDim !== undefined ? { headDim: c.headDim } : {}),
  expandV: c.expandV,
  useGate: c.useGate,
  conv: c.conv,
  dsc: c.dsc,
  chunkSize: c.chunkSize,
});

/** Gated DeltaNet LM config: mixer fields at the top level, problems reported at their paths. */
export const GatedDeltaNetConfig = Base.check(
  crossFieldCheck<GatedDeltaNetConfig>((c) => validateGatedDeltaNet(gatedDeltaNetEntry(c), c.dModel)),
);

export const gatedDeltaNetStack = (c: GatedDeltaNetConfig): StackSpec =>
  uniformStack(c, gatedDeltaNetMixer, gatedDeltaNetEntry(c));
