import { NodeRuntime, NodeServices } from '@effect/platform-node';
import { Effect } from 'effect';
import { Command } from 'effect/cli';
import { cli, VERSION } from './cli.js';

// Dawn on a machine without a display needs a surfaceless EGL platform.
process.env.EGL_PLATFORM ??= 'surfaceless';

Command.run(cli, { version: VERSION }).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: false }),
);
