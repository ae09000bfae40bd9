import {
  E2E_DEFAULTS,
  type E2eMode,
  E2eOptionsError,
  type E2eVariant,
  runE2eBenchmark,
  runTorchTwin,
} from '@dynconv/trainer';
import { Effect, Option } from 'effect';
import { CliError, Command, Flag } from 'effect/cli';
import { println } from '../output.js';

const d = E2E_DEFAULTS;
const int = (name: string, fallback: number, description: string) =>
  Flag.Int(name).pipe(Flag.withDescription(description), Flag.withDefault(fallback));
const list = (v: string): string[] => v.split(',').filter(Boolean);

/** `dynconv bench e2e`: the full training step of a GPT-2-small-sized LM on WebGPU, plain and DSC, f32 and mixed. */
export const benchE2eCommand = Command.make(
  'e2e',
  {
    variants: Flag.String('variants').pipe(
      Flag.withDescription('Comma-separated: plain, dsc (DSC on Q/K/V)'),
      Flag.withDefault(d.variants.join(',')),
    ),
    modes: Flag.String('modes').pipe(
      Flag.withDescription(
        'Comma-separated: f32, mixed (f16 tensor-core matmuls, f32 master weights, loss scaling)',
      ),
      Flag.withDefault(d.modes.join(',')),
    ),
    layers: int('layers', d.layers, 'Transformer layers'),
    dModel: int('d-model', d.dModel, 'Model width'),
    heads: int('heads', d.heads, 'Attention heads'),
    mlpHidden: int('hidden', d.mlpHidden, 'SwiGLU hidden width'),
    vocab: int('vocab', d.vocab, 'Vocabulary size'),
    batch: int('batch', d.batch, 'Sequences per step'),
    seqLen: int('seq', d.seqLen, 'Tokens per sequence'),
    steps: int('steps', d.steps, 'Timed steps per configuration'),
    warmup: int('warmup', d.warmup, 'Untimed steps first (pipeline compiles, caches)'),
    hostSync: Flag.Boolean('host-sync').pipe(
      Flag.withDescription(
        'Read loss and norm back in every step and decide clipping/loss scaling on the host',
      ),
      Flag.withDefault(false),
    ),
    profile: Flag.Boolean('profile').pipe(
      Flag.withDescription(
        'Time every dispatch of one extra step on the GPU and print the kernels by GPU time',
      ),
      Flag.withDefault(false),
    ),
    out: Flag.String('out').pipe(
      Flag.withDescription('Directory for e2e-webgpu.json (and torch-e2e.json with --torch)'),
      Flag.optional,
    ),
    torch: Flag.Boolean('torch').pipe(
      Flag.withDescription(
        'Then time the PyTorch twin of the same model on the same GPU (python3 with CUDA PyTorch)',
      ),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const options = {
        ...d,
        ...f,
        variants: list(f.variants) as E2eVariant[],
        modes: list(f.modes) as E2eMode[],
      };
      const outDir = Option.getOrUndefined(f.out) ?? (f.torch ? 'bench-results' : undefined);
      const lines: string[] = [];
      const log = (line: string) => {
        lines.push(line);
        process.stdout.write(`${line}\n`);
      };
      yield* Effect.tryPromise({
        try: () => runE2eBenchmark(options, { ...(outDir ? { outDir } : {}), log }),
        catch: (e) =>
          new CliError.UserError({
            cause: e,
            userMessage: e instanceof E2eOptionsError ? e.message : `bench e2e: ${(e as Error).message}`,
          }),
      });
      if (outDir) yield* println(`wrote ${outDir}/e2e-webgpu.json`);
      if (f.torch && outDir) {
        const status = yield* Effect.tryPromise({
          try: () => runTorchTwin(options, outDir, log),
          catch: (e) =>
            new CliError.UserError({ cause: e, userMessage: `bench e2e --torch: ${(e as Error).message}` }),
        });
        if (status !== 0)
          return yield* new CliError.UserError({
            cause: status,
            userMessage: `bench e2e --torch: the PyTorch twin exited with status ${status}`,
          });
      }
    }),
).pipe(
  Command.withDescription(
    'Time the full training step (forward, cross-entropy, backward, clipping, fused AdamW) of a Llama-style LM on WebGPU: tokens/s, MFU, dispatches; optionally beside PyTorch on the same GPU.',
  ),
);
