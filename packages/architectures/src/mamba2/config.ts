import { Schema } from 'effect';
import type { StackSpec } from '../blocks/stack.js';
import { type UniformStackConfig, uniformStack, uniformStackFields } from '../blocks/uniform-stack.js';
import { crossFieldCheck } from '../config.js';
import {
  Mamba2MixerConfig as Entry,
  type Mamba2MixerConfig,
  mamba2Mixer,
  validateMamba2,
} from '../mixers/mamba2/index.js';

const { mixer: _mixer, ...mixerFields } = Entry.fields;
const Base = Schema.Struct({ ...uniformStackFields('none'), ...mixerFields });
export type Mamba2Config = typeof Base.Type;

/** The `mamba2` mixer entry of every layer. */
export const mamba2Entry = (c: Mamba2Config): Mamba2MixerConfig => ({
  mixer: 'mamba2',
  dState: c.dState,
  headDim: c.headDim,
  expand: c.expand,
  nGroups: c.nGroups,
  conv: c.conv,
  dsc: c.dsc,
  chunkSize: c.chunkSize,
  dtMin: c.dtMin,
  dtMax: c.dtMax,
});

/** Mamba-2 LM config: mixer fields at the top level, problems reported at their paths. */
export const Mamba2Config = Base.check(
  crossFieldCheck<Mamba2Config>((c) => validateMamba2(mamba2Entry(c), c.dModel)),
);

export const mamba2Stack = (c: Mamba2Config): StackSpec =>
  uniformStack(c satisfies UniformStackConfig, mamba2Mixer, mamba2Entry(c));
