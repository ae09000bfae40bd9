/**
 * A training run in its own process (for kill and signal tests):
 * `node <flags> child.ts <config.json> <runDir> [resume]`.
 */
import { NodeRuntime } from '@effect/platform-node';
import { Effect } from 'effect';
import { runTraining } from '../../src/run.js';
import { testArchitectures } from './harness.js';

const [configFile, runDir, resume] = process.argv.slice(2);
runTraining({ configFile, runDir, resume: resume === 'resume' ? runDir : undefined }).pipe(
  Effect.tap((s) => Effect.sync(() => console.log(`done ${s.steps}`))),
  Effect.provide(testArchitectures),
  NodeRuntime.runMain,
);
