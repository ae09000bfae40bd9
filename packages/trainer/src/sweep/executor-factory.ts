import type { Layer } from 'effect';
import { Architectures } from '../model/Architectures.js';
import { ChildProcessExecutor } from './child-process-executor.js';
import type { RunExecutor } from './executor.js';
import type { ExecutorSpec } from './grid.js';
import { trainerExecutor } from './trainer-executor.js';
import { TrainerProcessExecutor } from './trainer-process-executor.js';

/** The executor a grid file asks for. */
export const makeExecutor = (
  spec: ExecutorSpec,
  options: {
    readonly architectures?: Layer.Layer<Architectures>;
    /** The `dynconv` CLI for `trainer-process` (default: this process's own script, i.e. the running CLI). */
    readonly cli?: readonly [string, ...string[]];
  } = {},
): RunExecutor => {
  switch (spec.kind) {
    case 'trainer':
      return trainerExecutor({ architectures: options.architectures ?? Architectures.layer });
    case 'trainer-process':
      return new TrainerProcessExecutor(options.cli ?? [process.execPath, process.argv[1] ?? 'dynconv']);
    case 'command':
      return new ChildProcessExecutor({
        command: spec.command,
        ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
        ...(spec.env === undefined ? {} : { env: spec.env }),
      });
  }
};
