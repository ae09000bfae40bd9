/**
 * `@dynconv/data/synthetic`: the synthetic recall tasks and their random
 * stream, with no Node built-ins in the import graph, so a browser bundle can
 * take them alone (the main entry also brings file shards, `node:crypto` and
 * the streaming loader). Examples are the same as through the main entry.
 *
 *   const task = new MqarTask({ vocabSize: 8192, seqLen: 256, numKvPairs: 16 });
 *   const inputs = new Int32Array(256), labels = new Int32Array(256);
 *   task.generate(new Rng(seed, index), inputs, labels);
 */
export { hashKeys, hashUnit, mix32, permutation, Rng } from '../random.js';
export { type MqarOptions, MqarTask } from './mqar.js';
export { type CompositionalMqarOptions, CompositionalMqarTask } from './mqar-compositional.js';
export { KEY_DELIMITER, type VariableKeyMqarOptions, VariableKeyMqarTask } from './mqar-variable-keys.js';
export { PowerLawGaps, sampleDistinct } from './sampling.js';
export { fillRandomNonQueries, type SyntheticTask } from './task.js';
