import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Effect } from 'effect';
import { Architectures } from '../../src/model/Architectures.js';
import { runTraining } from '../../src/run.js';

/**
 * Trains a small base model with the real trainer (CPU backend) and returns
 * its run folder: what the probe and DtR studies start from.
 */
export const trainBase = async (dir: string, config: Record<string, unknown>): Promise<string> => {
  const configFile = join(dir, 'base.json');
  writeFileSync(configFile, JSON.stringify(config));
  const runDir = join(dir, 'base');
  await Effect.runPromise(
    runTraining({ configFile, runDir, progress: false }).pipe(Effect.provide(Architectures.layer)),
  );
  return runDir;
};
