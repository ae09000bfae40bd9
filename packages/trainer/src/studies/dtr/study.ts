import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeSafetensors,
  loadParameters,
  TransformerConfig,
  toSafetensorsEntries,
  transformerStack,
} from '@dynconv/architectures';
import { Effect, Schema } from 'effect';
import { type RunConfig, RunConfig as RunConfigSchema } from '../../config/schema.js';
import type { TrainBatch } from '../../data/TrainData.js';
import { makeTrainData } from '../../data/TrainData.js';
import { acquireDevice } from '../../device/Device.js';
import type { ModelV1 } from '../../model/spec.js';
import { writeJsonl } from '../../sweep/results.js';
import { evaluate } from '../../train/evaluate.js';
import { readCheckpointBase } from '../common/checkpoint-model.js';
import { resolveStudyConfig } from '../common/study-config-file.js';
import { SeededRandom } from '../math/rng.js';
import { writeReport } from '../report/html-report.js';
import { DTR_SIZES, DtrStudyConfig, type LinearMixer } from './config.js';
import { type DecodeSpeed, measureDecode } from './decode-speed.js';
import { type DistillResult, distillBlocks } from './distill.js';
import { type GreedyResult, greedyReplacement, randomLayers, uniformLayers } from './greedy.js';
import { buildCandidate, hybridConfigFor } from './hybrid-candidate.js';
import { buildLayerwiseStack } from './layerwise.js';
import { initLinearBlocks } from './linear-blocks.js';
import { dtrReport } from './report.js';

export interface DtrOptions {
  /** The trained full-attention model: a `transformer` run folder or checkpoint folder. */
  readonly checkpoint: string;
  readonly size?: string;
  readonly configFile?: string;
  readonly outDir?: string;
  /** Overrides the size's linear module. */
  readonly mixer?: LinearMixer;
  readonly log?: (line: string) => void;
  readonly command?: string;
}

/** A scored hybrid: which layers are linear, its validation and test scores, and its decode speed. */
export interface ScoredModel {
  readonly label: string;
  readonly replaced: readonly number[];
  readonly validation: number;
  readonly test: number;
  readonly decode?: DecodeSpeed;
  /** Where the model was saved (`config.json` + `model.safetensors`). */
  readonly savedTo?: string;
}

/** Baseline score curves over the number of replaced layers (validation split). */
export interface BaselineCurve {
  readonly k: number;
  readonly uniform: number;
  readonly randomMean: number;
  readonly randomMin: number;
  readonly randomMax: number;
}

export interface DtrResult {
  readonly distill: DistillResult;
  readonly greedy: GreedyResult;
  readonly models: readonly ScoredModel[];
  readonly curves: readonly BaselineCurve[];
  readonly reportPath: string;
  readonly resultsPath: string;
}

/**
 * Distill-then-Replace (method.md §3): blockwise local distillation of a
 * linear module (Gated DeltaNet or GLA) for every attention block of a
 * trained transformer, then greedy validation-driven replacement. Reports
 * score vs layers replaced against uniform-interleave and random baselines,
 * the test scores of M_best and M_opt, and the measured decode speedup;
 * saves both hybrids.
 */
export const runDtr = (options: DtrOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const resolved = resolveStudyConfig(DtrStudyConfig, DTR_SIZES, options);
      const config: DtrStudyConfig =
        options.mixer === undefined ? resolved : { ...resolved, mixer: options.mixer };
      const outDir = options.outDir ?? join('runs', 'studies', config.name);
      const log = options.log ?? ((line: string) => console.log(line));
      const started = new Date();
      const base = yield* readCheckpointBase(options.checkpoint);
      if (base.architecture.name !== 'transformer')
        return yield* Effect.fail(
          new Error(`DtR needs a full-attention transformer checkpoint, got '${base.architecture.name}'`),
        );
      const teacherConfig = Schema.decodeUnknownSync(TransformerConfig)(base.modelConfig);
      const stack = transformerStack(teacherConfig);
      const layers = stack.layers.length;
      const runConfig: RunConfig = Schema.decodeUnknownSync(RunConfigSchema)({
        ...base.runConfig,
        seed: config.seed,
        batch: {
          ...base.runConfig.batch,
          ...(config.distillBatchSize === undefined ? {} : { size: config.distillBatchSize }),
        },
        eval: { ...base.runConfig.eval, batches: config.evalBatches },
        data:
          config.evalExamples !== undefined && base.runConfig.data.kind !== 'corpus'
            ? { ...base.runConfig.data, evalExamples: config.evalExamples }
            : base.runConfig.data,
      });
      const device = yield* acquireDevice(runConfig.device);
      const backend = device.backend;
      const withDocStart = runConfig.data.kind === 'corpus';
      const data = yield* makeTrainData(runConfig);
      const held = data.evalBatches();
      if (held.length < 2)
        return yield* Effect.fail(
          new Error(`need at least 2 held-out batches to split validation/test, got ${held.length}`),
        );
      const validation: TrainBatch[] = held.filter((_, i) => i % 2 === 0);
      const testSet: TrainBatch[] = held.filter((_, i) => i % 2 === 1);
      log(`DtR on ${base.path}: ${layers} attention layers -> ${config.mixer}; ${device.description}`);

      // Stage 1: blockwise local distillation.
      const teacher = buildLayerwiseStack(stack, backend);
      yield* Effect.addFinalizer(() => Effect.sync(() => teacher.dispose()));
      loadParameters(
        teacher.parameters,
        new Map(
          [...base.weights].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }]),
        ),
      );
      for (const p of teacher.parameters.values()) p.requireGrad(false);
      const attention = stack.layers[0]!.config as unknown as { nHeads: number; headDim?: number };
      const shape = {
        dModel: stack.dModel,
        nHeads: attention.nHeads,
        headDim: attention.headDim ?? stack.dModel / attention.nHeads,
      };
      const outStd = stack.scaledOutputInit ? stack.initStd / Math.sqrt(2 * layers) : stack.initStd;
      const students = initLinearBlocks(
        config.mixer,
        shape,
        layers,
        { normEps: stack.normEps, initStd: stack.initStd, outStd, backend, seed: config.seed },
        config.warmStart ? teacher.parameters : undefined,
      );
      yield* Effect.addFinalizer(() => Effect.sync(() => students.dispose()));
      const distill = yield* Effect.promise(() =>
        distillBlocks({
          teacher,
          students,
          data,
          backend,
          steps: config.distillSteps,
          lr: config.distillLr,
          withDocStart,
          adamwUpdate: device.adamwUpdate,
          log,
        }),
      );
      log(
        `distilled in ${distill.seconds.toFixed(1)} s; relative block MSE ${distill.relativeMseAfter.map((m) => m.toFixed(3)).join(' ')}`,
      );

      // Stage 2: greedy validation-driven replacement (forward passes only).
      const scoreOf = (r: { loss: number; accuracy: number }) =>
        config.metric === 'accuracy' ? r.accuracy : -r.loss;
      const cache = new Map<string, { validation: number; test?: number }>();
      const withModel = async <A>(
        replaced: readonly number[],
        use: (model: ModelV1) => Promise<A>,
      ): Promise<A> => {
        const model = buildCandidate(
          hybridConfigFor(base.modelConfig, stack, students.entry, replaced),
          base.weights,
          students,
          backend,
        );
        try {
          return await use(model);
        } finally {
          model.dispose();
        }
      };
      const validate = async (replaced: readonly number[]): Promise<number> => {
        const key = replaced.join(',');
        const hit = cache.get(key);
        if (hit) return hit.validation;
        const value = await withModel(replaced, async (m) =>
          scoreOf(await evaluate(m, validation, backend, withDocStart)),
        );
        cache.set(key, { validation: value });
        return value;
      };
      const minScoreOf = (baseScore: number) =>
        config.metric === 'accuracy'
          ? baseScore * (1 - config.maxRelativeDrop)
          : baseScore * (1 + config.maxRelativeDrop);
      const greedy = yield* Effect.promise(() => greedyReplacement(layers, validate, minScoreOf));
      log(
        `greedy: M_best replaces [${greedy.best.replaced.join(', ')}] (val ${greedy.best.score.toFixed(4)}), M_opt replaces [${greedy.mostLinear.replaced.join(', ')}] (val ${greedy.mostLinear.score.toFixed(4)}); ${greedy.evaluations} validation passes`,
      );

      // Baselines at every count, on the validation split.
      const random = new SeededRandom(config.seed + 17);
      const draws = Array.from({ length: layers }, (_, k) =>
        Array.from({ length: config.randomDraws }, () => randomLayers(layers, k + 1, () => random.next())),
      );
      const curves: BaselineCurve[] = [];
      for (let k = 1; k <= layers; k++) {
        const uniform = yield* Effect.promise(() => validate(uniformLayers(layers, k)));
        const randoms: number[] = [];
        for (const set of draws[k - 1]!) randoms.push(yield* Effect.promise(() => validate(set)));
        curves.push({
          k,
          uniform,
          randomMean: randoms.reduce((a, b) => a + b, 0) / randoms.length,
          randomMin: Math.min(...randoms),
          randomMax: Math.max(...randoms),
        });
      }

      // Test scores, decode speed and saved models.
      const testScore = (replaced: readonly number[]) =>
        withModel(replaced, async (m) => scoreOf(await evaluate(m, testSet, backend, withDocStart)));
      const decodeOf = (replaced: readonly number[]) =>
        withModel(replaced, (m) =>
          measureDecode(m, backend, { ...config.decode, vocabSize: stack.vocabSize }),
        );
      const save = (replaced: readonly number[], folder: string) =>
        withModel(replaced, async (m) => {
          const dir = join(outDir, 'models', folder);
          mkdirSync(dir, { recursive: true });
          writeFileSync(
            join(dir, 'config.json'),
            `${JSON.stringify({ architecture: 'hybrid', config: hybridConfigFor(base.modelConfig, stack, students.entry, replaced) }, null, 2)}\n`,
          );
          writeFileSync(
            join(dir, 'model.safetensors'),
            encodeSafetensors(await toSafetensorsEntries(m.parameters), { format: 'pt', teacher: base.path }),
          );
          return dir;
        });
      const k = greedy.mostLinear.replaced.length;
      const uniformSet = uniformLayers(layers, k);
      const randomSet = k > 0 ? draws[k - 1]![0]! : [];
      const plan: Array<{ label: string; replaced: readonly number[]; save?: string; decode: boolean }> = [
        { label: 'full attention (teacher)', replaced: [], decode: true },
        {
          label: 'M_best (greedy, best validation)',
          replaced: greedy.best.replaced,
          save: 'best',
          decode: true,
        },
        {
          label: `M_opt (greedy, most linear within ${config.maxRelativeDrop * 100}%)`,
          replaced: greedy.mostLinear.replaced,
          save: 'most-linear',
          decode: true,
        },
        { label: `uniform interleave, ${k} layer(s)`, replaced: uniformSet, decode: false },
        { label: `random, ${k} layer(s) (draw 1)`, replaced: randomSet, decode: false },
      ];
      const models: ScoredModel[] = [];
      for (const item of plan) {
        const validationScore = yield* Effect.promise(() => validate(item.replaced));
        const test = yield* Effect.promise(() => testScore(item.replaced));
        const decode = item.decode ? yield* Effect.promise(() => decodeOf(item.replaced)) : undefined;
        const savedTo = item.save ? yield* Effect.promise(() => save(item.replaced, item.save!)) : undefined;
        models.push({
          label: item.label,
          replaced: item.replaced,
          validation: validationScore,
          test,
          ...(decode ? { decode } : {}),
          ...(savedTo ? { savedTo } : {}),
        });
        log(
          `${item.label}: layers [${item.replaced.join(', ')}], val ${validationScore.toFixed(4)}, test ${test.toFixed(4)}${decode ? `, ${decode.tokensPerSecond.toFixed(1)} tok/s` : ''}`,
        );
      }

      const resultsPath = join(outDir, 'results.jsonl');
      writeJsonl(resultsPath, [
        {
          kind: 'distill',
          ...distill,
          losses: undefined,
          finalLoss: distill.losses[distill.losses.length - 1],
        },
        ...greedy.rounds.map((r, i) => ({ kind: 'greedy-round', round: i + 1, ...r })),
        ...curves.map((c) => ({ kind: 'baseline-curve', ...c })),
        ...models.map((m) => ({ kind: 'model', ...m })),
      ]);
      const reportPath = join(outDir, 'report.html');
      writeReport(
        reportPath,
        dtrReport(
          config,
          { layers, distill, greedy, curves, models, metric: config.metric },
          {
            command:
              options.command ??
              `dynconv dtr --checkpoint ${options.checkpoint} --size ${options.size ?? 'tiny'}`,
            started: started.toISOString(),
            finished: new Date().toISOString(),
            teacher: `${base.path} (transformer, ${layers} layers, d_model ${stack.dModel}, step ${base.step})`,
            data: runConfig.data.kind === 'corpus' ? `corpus ${runConfig.data.path}` : runConfig.data.kind,
            device: device.description,
            protocol: 'method.md §3 (DtR), §8.5',
          },
        ),
      );
      log(`report: ${reportPath}`);
      return { distill, greedy, models, curves, reportPath, resultsPath } satisfies DtrResult;
    }),
  );
