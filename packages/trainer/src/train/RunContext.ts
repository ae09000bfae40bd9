import { Context, Layer } from 'effect';
import type { RunConfig } from '../config/schema.js';

/** The resolved settings of one run. */
export interface RunContextShape {
  readonly config: RunConfig;
  /** The plugin config, decoded by the plugin's own schema (defaults filled). */
  readonly modelConfig: unknown;
  /** Folder of the run: `config.json`, `metrics.jsonl`, `checkpoints/`. */
  readonly runDir: string;
}

/** The run settings service every other trainer layer reads. */
export class RunContext extends Context.Service<RunContext, RunContextShape>()(
  '@dynconv/trainer/RunContext',
) {
  static readonly layer = (ctx: RunContextShape): Layer.Layer<RunContext> => Layer.succeed(RunContext, ctx);
}
