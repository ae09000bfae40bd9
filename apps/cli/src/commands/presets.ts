import { PRESETS } from '@dynconv/trainer';
import { Effect } from 'effect';
import { Command } from 'effect/cli';
import { println } from '../output.js';

/** `dynconv presets` */
export const presetsCommand = Command.make('presets', {}, () =>
  Effect.forEach(PRESETS, (p) => println(`${p.name.padEnd(28)} ${p.description}`), { discard: true }),
).pipe(Command.withDescription('List the named run configs (use with dynconv train --preset NAME).'));
