import { Registry } from '../registry.js';
import type { AnyMixer } from './types.js';

/**
 * The mixer registry used by the `hybrid` architecture. Each mixer folder
 * registers itself in its `index.ts` (`mixers.register(myMixer)`); the hybrid
 * config schema is rebuilt from the registered mixers when it is read.
 */
export const mixers = new Registry<AnyMixer>('mixer');
