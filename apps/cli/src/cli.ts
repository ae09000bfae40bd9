import { Command } from 'effect/cli';
import { benchCommand } from './commands/bench.js';
import { devicesCommand } from './commands/devices.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { prepareCommand } from './commands/prepare.js';
import { presetsCommand } from './commands/presets.js';
import { reportCommand } from './commands/report.js';
import { dtrCommand, studyCommand } from './commands/study.js';
import { sweepCommand, sweepRunnerCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';

/** The CLI version (kept with apps/cli/package.json). */
export const VERSION = '0.0.0';

/** The `dynconv` command tree. */
export const cli = Command.make('dynconv').pipe(
  Command.withDescription(
    'Train, evaluate and compare language-model architectures on WebGPU (Dawn) or the CPU.',
  ),
  Command.withSubcommands([
    trainCommand,
    evalCommand,
    generateCommand,
    reportCommand,
    devicesCommand,
    benchCommand,
    presetsCommand,
    prepareCommand,
    sweepCommand,
    sweepRunnerCommand,
    studyCommand,
    dtrCommand,
  ]),
);
