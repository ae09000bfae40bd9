import { Architectures, benchmark, formatCount } from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { println } from '../output.js';
import { benchE2eCommand } from './bench-e2e.js';

/** `dynconv bench` */
export const benchCommand = Command.make(
  'bench',
  {
    preset: Flag.String('preset').pipe(
      Flag.withDescription('Run config to time (default mqar-dsc)'),
      Flag.optional,
    ),
    config: Flag.String('config').pipe(Flag.withDescription('Run config file'), Flag.optional),
    set: Flag.String('set').pipe(Flag.withDescription('Config override (repeatable)'), Flag.atLeast(0)),
    device: Flag.Literals('device', ['cpu', 'webgpu', 'all']).pipe(
      Flag.withDescription('Devices to time'),
      Flag.withDefault('all'),
    ),
    steps: Flag.Int('steps').pipe(Flag.withDescription('Timed steps per device'), Flag.withDefault(10)),
    warmup: Flag.Int('warmup').pipe(
      Flag.withDescription('Untimed steps first (pipeline compiles, caches)'),
      Flag.withDefault(2),
    ),
    gpuSize: Flag.Boolean('gpu-size').pipe(
      Flag.withDescription("Time the presets' larger GPU size (default: their CPU size)"),
      Flag.withDefault(false),
    ),
    json: Flag.Boolean('json').pipe(Flag.withDescription('Print results as JSON'), Flag.withDefault(false)),
  },
  (f) =>
    Effect.gen(function* () {
      const results = yield* benchmark({
        preset: Option.getOrUndefined(f.preset),
        configFile: Option.getOrUndefined(f.config),
        sets: f.set,
        devices: f.device === 'all' ? ['cpu', 'webgpu'] : [f.device],
        steps: f.steps,
        warmup: f.warmup,
        gpuSize: f.gpuSize,
      }).pipe(Effect.provide(Architectures.layer), asUserError);
      if (f.json) return yield* println(JSON.stringify(results, null, 2));
      for (const r of results)
        yield* println(
          r.error
            ? `${r.device}: ${r.error}`
            : `${r.device}: ${r.msPerStep.toFixed(1)} ms/step, ${formatCount(r.tokensPerSec)} tok/s (${formatCount(r.parameters)} params, ${r.tokensPerStep} tokens/step)`,
        );
      const ok = results.filter((r) => !r.error);
      if (ok.length > 1) {
        const best = ok.reduce((a, b) => (a.tokensPerSec >= b.tokensPerSec ? a : b));
        yield* println(`fastest: ${best.device}`);
      }
    }),
).pipe(
  Command.withDescription(
    'Time full training steps (forward, backward, AdamW) of a run config on the CPU backend and on WebGPU; `bench e2e` for the end-to-end GPU benchmark.',
  ),
  Command.withSubcommands([benchE2eCommand]),
);
