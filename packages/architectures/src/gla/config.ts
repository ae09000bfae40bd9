import { Schema } from 'effect';
import type { StackSpec } from '../blocks/stack.js';
import { uniformStack, uniformStackFields } from '../blocks/uniform-stack.js';
import { crossFieldCheck } from '../config.js';
import { GlaMixerConfig as Entry, type GlaMixerConfig, glaMixer, validateGla } from '../mixers/gla/index.js';

const { mixer: _mixer, ...mixerFields } = Entry.fields;
const Base = Schema.Struct({ ...uniformStackFields('swiglu'), ...mixerFields });
export type GlaConfig = typeof Base.Type;

/** The `gla` mixer entry of every layer. */
export const glaEntry = (c: GlaConfig): GlaMixerConfig => ({
  mixer: 'gla',
  nHeads: c.nHeads,
  expandK: c.expandK,
  expandV: c.expandV,
  gateLowRankDim: c.gateLowRankDim,
  gateLogitNormalizer: c.gateLogitNormalizer,
  useOutputGate: c.useOutputGate,
  conv: c.conv,
  dsc: c.dsc,
  chunkSize: c.chunkSize,
});

/** GLA LM config: mixer fields at the top level, problems reported at their paths. */
export const GlaConfig = Base.check(crossFieldCheck<GlaConfig>((c) => validateGla(glaEntry(c), c.dModel)));

export const glaStack = (c: GlaConfig): StackSpec => uniformStack(c, glaMixer, glaEntry(c));
