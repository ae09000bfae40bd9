import { Architectures, generateFromCheckpoint } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { println } from '../output.js';

/** `dynconv generate` */
export const generateCommand = Command.make(
  'generate',
  {
    checkpoint: Flag.String('checkpoint').pipe(
      Flag.withDescription('A run folder (its latest checkpoint) or one checkpoint folder'),
    ),
    prompt: Flag.String('prompt').pipe(
      Flag.withAlias('p'),
      Flag.withDescription(
        'Text for corpus runs; space-separated token ids for MQAR runs (without it, MQAR runs replay a held-out example)',
      ),
      Flag.optional,
    ),
    maxTokens: Flag.Int('max-tokens').pipe(Flag.withDescription('Tokens to generate'), Flag.withDefault(200)),
    temperature: Flag.Finite('temperature').pipe(
      Flag.withDescription('Sampling temperature; 0 is greedy'),
      Flag.withDefault(0.8),
    ),
    topK: Flag.Int('top-k').pipe(
      Flag.withDescription('Sample among the k most likely tokens'),
      Flag.optional,
    ),
    topP: Flag.Finite('top-p').pipe(Flag.withDescription('Nucleus sampling threshold'), Flag.optional),
    seed: Flag.Int('seed').pipe(
      Flag.withDescription('Seed of the sampling stream (and of the replayed MQAR example)'),
      Flag.withDefault(0),
    ),
    device: Flag.Literals('device', ['auto', 'cpu', 'webgpu']).pipe(
      Flag.withDescription("Device (default: the run's)"),
      Flag.optional,
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const g = yield* generateFromCheckpoint({
        checkpoint: f.checkpoint,
        prompt: Option.getOrUndefined(f.prompt),
        maxTokens: f.maxTokens,
        temperature: f.temperature,
        topK: Option.getOrUndefined(f.topK),
        topP: Option.getOrUndefined(f.topP),
        seed: f.seed,
        device: Option.getOrUndefined(f.device),
      }).pipe(Effect.provide(Architectures.layer), asUserError);
      switch (g.kind) {
        case 'text':
          return yield* println(`${g.prompt}${g.completion}`);
        case 'ids':
          return yield* println(`${g.prompt.join(' ')} | ${g.completion.join(' ')}`);
        case 'recall': {
          yield* println(`held-out example: ${g.example.join(' ')}`);
          for (const q of g.queries)
            yield* println(
              `  position ${String(q.position).padStart(3)}: key ${q.key} -> ${q.predicted} (expected ${q.expected}) ${q.predicted === q.expected ? 'ok' : 'WRONG'}`,
            );
          const hits = g.queries.filter((q) => q.predicted === q.expected).length;
          return yield* println(
            `recalled ${hits}/${g.queries.length} values, decoding token by token with the model's decode caches`,
          );
        }
      }
    }),
).pipe(
  Command.withDescription(
    "Sample from a checkpoint using the model's decode caches (KV and convolution caches).",
  ),
);
