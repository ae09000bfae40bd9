import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** Hex characters kept from the SHA-256: 64 bits, collision-free for any realistic sweep. */
const RUN_ID_LENGTH = 16;

/**
 * The stable id of a run: a hash of its fully resolved config. The same
 * config always gets the same id, so a finished run is recognised (and not
 * repeated) however the grid that produced it was written.
 */
export const runIdOf = (resolvedConfig: unknown): string =>
  createHash('sha256').update(canonicalJson(resolvedConfig)).digest('hex').slice(0, RUN_ID_LENGTH);
