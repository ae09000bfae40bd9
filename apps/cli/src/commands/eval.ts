import { Architectures, evaluateCheckpoint } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { println } from '../output.js';

/** `dynconv eval` */
export const evalCommand = Command.make(
  'eval',
  {
    checkpoint: Flag.String('checkpoint').pipe(
      Flag.withDescription('A run folder (its latest checkpoint) or one checkpoint folder'),
    ),
    device: Flag.Literals('device', ['auto', 'cpu', 'webgpu']).pipe(
      Flag.withDescription("Device to evaluate on (default: the run's)"),
      Flag.optional,
    ),
    json: Flag.Boolean('json').pipe(
      Flag.withDescription('Print the result as JSON'),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* evaluateCheckpoint(f.checkpoint, { device: Option.getOrUndefined(f.device) }).pipe(
        Effect.provide(Architectures.layer),
        asUserError,
      );
      if (f.json) return yield* println(JSON.stringify(r));
      yield* println(`checkpoint ${r.checkpoint} (step ${r.step}) on ${r.device}`);
      yield* println(
        `eval loss ${r.loss.toFixed(4)} | perplexity ${r.perplexity.toFixed(2)} | ${r.task === 'recall' ? 'recall accuracy' : 'token accuracy'} ${(100 * r.accuracy).toFixed(2)}% over ${r.labeled} labeled positions`,
      );
    }),
).pipe(
  Command.withDescription("Evaluate a checkpoint on its run's evaluation set (loss, perplexity, accuracy)."),
);
