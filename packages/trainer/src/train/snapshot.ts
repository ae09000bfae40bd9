import { defaultGenerator, type Tensor, tensor } from '@dynconv/tensor';
import { Effect } from 'effect';
import type { CheckpointContent, LoadedCheckpoint } from '../checkpoint/checkpoint-io.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointState } from '../checkpoint/format.js';
import type { HostTensor } from '../checkpoint/tensor-file.js';
import type { TrainDataShape } from '../data/TrainData.js';
import { CheckpointError } from '../errors.js';
import type { ModelShape } from '../model/Model.js';
import type { AdamW } from '../optim/adamw.js';
import type { RunContextShape } from './RunContext.js';

/** The counters a run carries from step to step (and through checkpoints). */
export interface Progress {
  step: number;
  tokensSeen: number;
  elapsedMs: number;
  consecutiveNonFinite: number;
  skipped: number;
  lastEval: { step: number; loss: number; accuracy: number } | null;
  bestEvalLoss: number | null;
}

export const freshProgress = (): Progress => ({
  step: 0,
  tokensSeen: 0,
  elapsedMs: 0,
  consecutiveNonFinite: 0,
  skipped: 0,
  lastEval: null,
  bestEvalLoss: null,
});

/** Reads a device tensor to the host (f16 widens to f32). */
export const toHost = async (t: Tensor): Promise<HostTensor> => {
  if (t.dtype === 'u32') throw new Error(`cannot checkpoint a u32 tensor (${t.toString()})`);
  const data = await t.data();
  return {
    dtype: t.dtype,
    shape: [...t.shape],
    data: data instanceof Int32Array ? data : data instanceof Float32Array ? data : Float32Array.from(data),
  };
};

export const EXP_AVG = 'exp_avg/';
export const EXP_AVG_SQ = 'exp_avg_sq/';

/** Everything needed to resume, read back from the device. */
export const snapshot = (
  ctx: RunContextShape,
  model: ModelShape,
  optimizer: AdamW,
  data: TrainDataShape,
  progress: Progress,
  /** Mixed precision: the loss scaler's state (`DeviceStepControl.scalerState`). */
  lossScale?: { readonly scale: number; readonly goodSteps: number },
): Effect.Effect<CheckpointContent> =>
  Effect.promise(async () => {
    const weights = new Map<string, HostTensor>();
    for (const [name, p] of model.model.parameters) weights.set(name, await toHost(p));
    const opt = optimizer.state();
    const moments = new Map<string, HostTensor>();
    for (const [name, m] of opt.expAvg) moments.set(EXP_AVG + name, await toHost(m));
    for (const [name, v] of opt.expAvgSq) moments.set(EXP_AVG_SQ + name, await toHost(v));
    const state: CheckpointState = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: progress.step,
      architecture: ctx.config.model.architecture,
      modelConfig: model.config,
      runConfig: ctx.config,
      optimizerStep: opt.step,
      dataCursor: data.cursor(),
      rng: defaultGenerator().state,
      nonFinite: { consecutive: progress.consecutiveNonFinite, skipped: progress.skipped },
      tokensSeen: progress.tokensSeen,
      elapsedMs: progress.elapsedMs,
      lastEval: progress.lastEval,
      bestEvalLoss: progress.bestEvalLoss,
      ...(lossScale ? { lossScale } : {}),
      createdAt: new Date().toISOString(),
    };
    return { state, model: weights, optimizer: moments };
  });

/** JSON with sorted keys, to compare configs regardless of key order. */
export const canonicalJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );

const mismatch = (path: string, detail: string) => new CheckpointError({ path, reason: 'mismatch', detail });

/** Names whose presence or shape differ between the model and a checkpoint (at most a few, for the message). */
const tensorDifferences = (
  model: ReadonlyMap<string, Tensor>,
  saved: ReadonlyMap<string, HostTensor>,
): string[] => {
  const out: string[] = [];
  for (const [name, p] of model) {
    const s = saved.get(name);
    if (!s) out.push(`missing ${name}`);
    else if (s.shape.join('x') !== p.shape.join('x'))
      out.push(`${name}: checkpoint [${s.shape.join(', ')}], model [${p.shape.join(', ')}]`);
  }
  for (const name of saved.keys()) if (!model.has(name)) out.push(`unexpected ${name}`);
  return out;
};

/** Copies host data into an existing device tensor. */
const assign = (target: Tensor, source: HostTensor): void => {
  const t = tensor(source.data, { shape: source.shape, dtype: target.dtype, backend: target.backend });
  target.backend.copy(t.view(), target.view());
  t.dispose();
};

/**
 * Checks that a checkpoint fits the model (architecture, plugin config,
 * parameter names and shapes) without changing anything.
 */
export const checkModelFits = (
  checkpoint: LoadedCheckpoint,
  architecture: string,
  modelConfig: unknown,
  model: ModelShape,
) =>
  Effect.gen(function* () {
    const { state, path } = checkpoint;
    if (state.architecture !== architecture)
      return yield* mismatch(
        path,
        `it was written by architecture '${state.architecture}', this run builds '${architecture}'`,
      );
    if (canonicalJson(state.modelConfig) !== canonicalJson(modelConfig))
      return yield* mismatch(
        path,
        `its ${architecture} config differs from this run's:\n    checkpoint: ${canonicalJson(state.modelConfig)}\n    this run:   ${canonicalJson(modelConfig)}`,
      );
    const diffs = tensorDifferences(model.model.parameters, checkpoint.model);
    if (diffs.length)
      return yield* mismatch(
        path,
        `its weights do not fit the model (${diffs.length} differences): ${diffs.slice(0, 5).join('; ')}`,
      );
  });

/** Loads the checkpoint's weights into the model (after {@link checkModelFits}). */
export const loadWeights = (checkpoint: LoadedCheckpoint, model: ModelShape): void => {
  for (const [name, p] of model.model.parameters) assign(p, checkpoint.model.get(name)!);
};

/** Restores model, optimizer, data cursor and RNG; returns the progress counters to continue from. */
export const restore = (
  checkpoint: LoadedCheckpoint,
  ctx: RunContextShape,
  model: ModelShape,
  optimizer: AdamW,
  data: TrainDataShape,
): Effect.Effect<Progress, CheckpointError> =>
  Effect.gen(function* () {
    const { state, path } = checkpoint;
    yield* checkModelFits(checkpoint, ctx.config.model.architecture, ctx.modelConfig, model);
    const moments = new Map<string, HostTensor>();
    for (const name of model.trainable.keys())
      for (const prefix of [EXP_AVG, EXP_AVG_SQ]) {
        const m = checkpoint.optimizer.get(prefix + name);
        if (!m) return yield* mismatch(path, `its optimizer state has no ${prefix}${name}`);
        moments.set(prefix + name, m);
      }
    yield* data.restore(state.dataCursor).pipe(Effect.mapError((e) => mismatch(path, e.reason)));
    loadWeights(checkpoint, model);
    const backend = [...model.trainable.values()][0]?.backend;
    const upload = (prefix: string) =>
      new Map(
        [...model.trainable.keys()].map((name) => {
          const h = moments.get(prefix + name)!;
          return [
            name,
            tensor(h.data, { shape: h.shape, dtype: 'f32', ...(backend ? { backend } : {}) }),
          ] as const;
        }),
      );
    const expAvg = upload(EXP_AVG);
    const expAvgSq = upload(EXP_AVG_SQ);
    optimizer.loadState({ step: state.optimizerStep, expAvg, expAvgSq });
    for (const t of [...expAvg.values(), ...expAvgSq.values()]) t.dispose();
    defaultGenerator().setState(state.rng);
    return {
      step: state.step,
      tokensSeen: state.tokensSeen,
      elapsedMs: state.elapsedMs,
      consecutiveNonFinite: state.nonFinite.consecutive,
      skipped: state.nonFinite.skipped,
      lastEval: state.lastEval,
      bestEvalLoss: state.bestEvalLoss,
    };
  });
