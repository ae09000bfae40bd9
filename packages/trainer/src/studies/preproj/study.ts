import { join } from 'node:path';
import { Effect, Schema } from 'effect';
import { type RunConfig, RunConfig as RunConfigSchema } from '../../config/schema.js';
import { makeTrainData } from '../../data/TrainData.js';
import { acquireDevice } from '../../device/Device.js';
import { writeJsonl } from '../../sweep/results.js';
import { evaluate } from '../../train/evaluate.js';
import { buildFromWeights, readCheckpointBase, trainOnly } from '../common/checkpoint-model.js';
import { fineTune } from '../common/fine-tune.js';
import { resolveStudyConfig } from '../common/study-config-file.js';
import { writeReport } from '../report/html-report.js';
import { PREPROJ_SIZES, PreprojStudyConfig, type ProbeArm } from './config.js';
import { LoraAdapters } from './lora.js';
import { preprojReport } from './report.js';

export interface PreprojStudyOptions {
  /** The trained base: a run folder or checkpoint folder of a `transformer` run. */
  readonly base: string;
  readonly size?: string;
  readonly configFile?: string;
  readonly outDir?: string;
  readonly log?: (line: string) => void;
  readonly command?: string;
}

/** One arm's outcome. */
export interface ProbeArmResult {
  readonly arm: ProbeArm | 'base';
  readonly trainableParameters: number;
  readonly evalLoss: number;
  readonly perplexity: number;
  readonly accuracy: number;
  readonly seconds: number;
  readonly curve: ReadonlyArray<{ readonly step: number; readonly loss: number }>;
  readonly loraRank?: number;
}

/** Per-layer Frobenius norms of the content-skip weights (the paper's "skip strength"). */
export interface SkipNorm {
  readonly layer: number;
  readonly norm: number;
}

export interface PreprojStudyResult {
  readonly arms: readonly ProbeArmResult[];
  readonly skipNorms: readonly SkipNorm[];
  readonly reportPath: string;
  readonly resultsPath: string;
}

const ATTENTION_WEIGHT = /^model\.layers\.(\d+)\.self_attn\.(q|k|v|o)_proj\.weight$/;
const SKIP_WEIGHT = /^model\.layers\.(\d+)\.self_attn\..*skip.*\.weight$/;

/**
 * The pre-projection probe (method.md §2.3): freeze a trained transformer,
 * train only the pre-projection MLP (and the content skip), compare with a
 * LoRA of similar parameter count, report perplexity and per-layer skip
 * norms. Writes `report.html` (+ `.md`) and `results.jsonl`.
 */
export const runPreprojStudy = (options: PreprojStudyOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const config = resolveStudyConfig(PreprojStudyConfig, PREPROJ_SIZES, options);
      const outDir = options.outDir ?? join('runs', 'studies', config.name);
      const log = options.log ?? ((line: string) => console.log(line));
      const started = new Date();
      const base = yield* readCheckpointBase(options.base);
      if (base.architecture.name !== 'transformer')
        return yield* Effect.fail(
          new Error(`the probe needs a transformer base, got '${base.architecture.name}'`),
        );
      if ((base.modelConfig['preProjection'] ?? 'off') !== 'off')
        return yield* Effect.fail(new Error('the base already has a pre-projection'));
      const runConfig: RunConfig = Schema.decodeUnknownSync(RunConfigSchema)({
        ...base.runConfig,
        seed: config.seed,
        ...(config.corpus === undefined ? {} : { data: { kind: 'corpus', path: config.corpus } }),
        batch: {
          ...base.runConfig.batch,
          ...(config.batchSize === undefined ? {} : { size: config.batchSize }),
        },
        eval: { ...base.runConfig.eval, batches: config.evalBatches },
      });
      const device = yield* acquireDevice(runConfig.device);
      const backend = device.backend;
      const withDocStart = runConfig.data.kind === 'corpus';
      const schedule = {
        kind: 'cosine' as const,
        warmupSteps: config.warmupSteps,
        minLrRatio: 0.1,
        decayFraction: 0.2,
      };
      log(`probe base ${base.path} (step ${base.step}) on ${device.description}`);

      const results: ProbeArmResult[] = [];
      let skipNorms: SkipNorm[] = [];
      // Fresh data per arm: every arm sees the same batches in the same order.
      const dataFor = () => makeTrainData(runConfig);

      const baseModel = buildFromWeights(
        base.architecture,
        base.modelConfig,
        base.weights,
        backend,
        config.seed,
      );
      const evalBatches = (yield* dataFor()).evalBatches();
      const baseEval = yield* Effect.promise(() =>
        evaluate(baseModel.model, evalBatches, backend, withDocStart),
      );
      baseModel.model.dispose();
      results.push({
        arm: 'base',
        trainableParameters: 0,
        evalLoss: baseEval.loss,
        perplexity: baseEval.perplexity,
        accuracy: baseEval.accuracy,
        seconds: 0,
        curve: [],
      });
      log(`base: eval loss ${baseEval.loss.toFixed(4)}, perplexity ${baseEval.perplexity.toFixed(3)}`);

      let skipArmParameters: number | null = null;
      const preprojConfig = (arm: 'preproj' | 'preproj+skip') => ({
        ...base.modelConfig,
        preProjection: arm === 'preproj' ? 'on' : 'on+skip',
        preProjectionExpansion: config.expansion,
      });
      // LoRA's rank is matched to the pre-projection + skip count, so that arm is sized first.
      const arms = [...config.arms].sort((a, b) => (a === 'lora' ? 1 : 0) - (b === 'lora' ? 1 : 0));
      for (const arm of arms) {
        const data = yield* dataFor();
        if (arm === 'lora') {
          const built = buildFromWeights(
            base.architecture,
            base.modelConfig,
            base.weights,
            backend,
            config.seed,
          );
          trainOnly(built.model, []);
          const targets = new Map(
            [...built.model.parameters].filter(([name]) => ATTENTION_WEIGHT.test(name)),
          );
          const perRank = [...targets.values()].reduce((n, w) => n + w.shape[0]! + w.shape[1]!, 0);
          const matched =
            skipArmParameters ?? preprojParameterCount(base.modelConfig, config.expansion, true);
          const rank = config.loraRank ?? Math.max(1, Math.round(matched / perRank));
          const lora = new LoraAdapters(targets, rank, { backend, seed: config.seed });
          const trainable = lora.parameters();
          const outcome = yield* Effect.promise(() =>
            fineTune({
              model: built.model,
              trainable,
              data,
              backend,
              steps: config.steps,
              lr: config.lr,
              schedule,
              weightDecay: config.weightDecay,
              gradClip: config.gradClip,
              withDocStart,
              evalBatches,
              evalEvery: config.evalEvery,
              adamwUpdate: device.adamwUpdate,
              hooks: { beforeForward: () => lora.merge(), afterBackward: () => lora.mapGradients() },
            }),
          );
          results.push(armResult(arm, lora.parameterCount(), outcome, rank));
          lora.dispose();
          built.model.dispose();
        } else {
          const built = buildFromWeights(
            base.architecture,
            preprojConfig(arm),
            base.weights,
            backend,
            config.seed,
          );
          const trainable = trainOnly(built.model, built.fresh);
          const count = [...trainable.values()].reduce((n, p) => n + p.size, 0);
          if (arm === 'preproj+skip') skipArmParameters = count;
          const outcome = yield* Effect.promise(() =>
            fineTune({
              model: built.model,
              trainable,
              data,
              backend,
              steps: config.steps,
              lr: config.lr,
              schedule,
              weightDecay: config.weightDecay,
              gradClip: config.gradClip,
              withDocStart,
              evalBatches,
              evalEvery: config.evalEvery,
              adamwUpdate: device.adamwUpdate,
            }),
          );
          results.push(armResult(arm, count, outcome));
          if (arm === 'preproj+skip') {
            skipNorms = [];
            for (const [name, p] of built.model.parameters) {
              const m = SKIP_WEIGHT.exec(name);
              if (!m) continue;
              const data = yield* Effect.promise(() => p.data());
              let sum = 0;
              for (const v of data) sum += v * v;
              skipNorms.push({ layer: Number(m[1]), norm: Math.sqrt(sum) });
            }
            skipNorms.sort((a, b) => a.layer - b.layer);
          }
          built.model.dispose();
        }
        const last = results[results.length - 1]!;
        log(
          `${arm}: ${last.trainableParameters} trainable, eval loss ${last.evalLoss.toFixed(4)}, perplexity ${last.perplexity.toFixed(3)}`,
        );
      }

      const resultsPath = join(outDir, 'results.jsonl');
      writeJsonl(resultsPath, [
        ...results.map((r) => ({ kind: 'arm', ...r })),
        ...skipNorms.map((s) => ({ kind: 'skip-norm', ...s })),
      ]);
      const reportPath = join(outDir, 'report.html');
      writeReport(
        reportPath,
        preprojReport(config, results, skipNorms, {
          command:
            options.command ??
            `dynconv study preproj --base ${options.base} --size ${options.size ?? 'tiny'}`,
          started: started.toISOString(),
          finished: new Date().toISOString(),
          base: `${base.path} (${base.architecture.name}, step ${base.step})`,
          data: runConfig.data.kind === 'corpus' ? `corpus ${runConfig.data.path}` : runConfig.data.kind,
          device: device.description,
          protocol: 'method.md §2.3 (frozen probe), §8.4',
        }),
      );
      log(`report: ${reportPath}`);
      return { arms: results, skipNorms, reportPath, resultsPath } satisfies PreprojStudyResult;
    }),
  );

const armResult = (
  arm: ProbeArm,
  trainableParameters: number,
  outcome: Awaited<ReturnType<typeof fineTune>>,
  loraRank?: number,
): ProbeArmResult => ({
  arm,
  trainableParameters,
  evalLoss: outcome.final.loss,
  perplexity: outcome.final.perplexity,
  accuracy: outcome.final.accuracy,
  seconds: outcome.seconds,
  curve: outcome.evals.map((e) => ({ step: e.step, loss: e.loss })),
  ...(loraRank === undefined ? {} : { loraRank }),
});

/** Pre-projection (+ skip) parameters per method.md §2.2: L·(2·⌊e·d⌋·d (+ d²)). */
const preprojParameterCount = (
  modelConfig: Record<string, unknown>,
  expansion: number,
  skip: boolean,
): number => {
  const d = Number(modelConfig['dModel']);
  const layers = Number(modelConfig['nLayers']);
  return layers * (2 * Math.floor(expansion * d) * d + (skip ? d * d : 0));
};
