import {
  BatchLoader,
  CompositionalMqarTask,
  type LoaderCursor,
  MqarTask,
  openTokenCorpus,
  PackedSequenceSource,
  type SequenceSource,
  SyntheticSource,
  type SyntheticTask,
  VariableKeyMqarTask,
} from '@dynconv/data';
import { Context, Effect, Layer } from 'effect';
import type { RunConfig } from '../config/schema.js';
import { DataError } from '../errors.js';

/** One batch as the trainer consumes it, row-major `[batchSize, seqLen]`. */
export interface TrainBatch {
  readonly inputs: Int32Array;
  /** Next-token labels, -100 where nothing is asked. */
  readonly targets: Int32Array;
  /** Per token, where its document starts within the row. */
  readonly docStart: Int32Array;
  readonly batchSize: number;
  readonly seqLen: number;
}

/**
 * The data a run trains and evaluates on: an endless stream of training
 * batches with an exact resume cursor, and a fixed evaluation set.
 */
export interface TrainDataShape {
  /** One line for logs, e.g. `mqar V=64 T=64 N=4`. */
  readonly description: string;
  /** `recall` tasks report accuracy on the queried positions; `lm` reports token accuracy. */
  readonly task: 'recall' | 'lm';
  readonly vocabSize: number;
  readonly batchSize: number;
  readonly seqLen: number;
  /** The next training batch (epochs roll over forever). */
  next(): TrainBatch;
  /** Resume point of the next batch `next()` would return (plain JSON). */
  cursor(): unknown;
  /** Continues from a cursor taken by `cursor()`; fails when it belongs to other data. */
  restore(cursor: unknown): Effect.Effect<void, DataError>;
  /** The evaluation batches (the same every call). */
  evalBatches(): readonly TrainBatch[];
}

/** The dataset/loader service. */
export class TrainData extends Context.Service<TrainData, TrainDataShape>()('@dynconv/trainer/TrainData') {
  /** Builds the data described by a run config: synthetic tasks on the fly, or a prepared corpus. */
  static readonly layer = (config: RunConfig): Layer.Layer<TrainData, DataError> =>
    Layer.effect(TrainData, makeTrainData(config));

  /** A service over any pair of sequence sources (used by tests and custom data). */
  static readonly fromSources = (options: FromSourcesOptions): TrainDataShape => fromSources(options);
}

/** Inputs of {@link TrainData.fromSources}. */
export interface FromSourcesOptions {
  readonly description: string;
  readonly task: 'recall' | 'lm';
  readonly vocabSize: number;
  readonly train: SequenceSource;
  readonly eval: SequenceSource;
  readonly batchSize: number;
  readonly evalBatches: number;
  readonly seed: number;
  readonly shuffle: boolean;
}

const toTrainBatch = (b: {
  inputs: Int32Array;
  targets: Int32Array;
  docStart: Int32Array;
  batchSize: number;
  seqLen: number;
}): TrainBatch => ({
  inputs: b.inputs,
  targets: b.targets,
  docStart: b.docStart,
  batchSize: b.batchSize,
  seqLen: b.seqLen,
});

function fromSources(o: FromSourcesOptions): TrainDataShape {
  let loader = new BatchLoader(o.train, {
    batchSize: o.batchSize,
    seed: o.seed,
    shuffle: o.shuffle,
    prefetch: 0,
  });
  let evalSet: TrainBatch[] | null = null;
  return {
    description: o.description,
    task: o.task,
    vocabSize: o.vocabSize,
    batchSize: o.batchSize,
    seqLen: o.train.seqLen,
    next: () => toTrainBatch(loader.next()!),
    cursor: () => loader.cursor,
    restore: (cursor) =>
      Effect.try({
        try: () => {
          loader = new BatchLoader(o.train, {
            batchSize: o.batchSize,
            seed: o.seed,
            shuffle: o.shuffle,
            prefetch: 0,
            resume: cursor as LoaderCursor,
          });
        },
        catch: (e) =>
          new DataError({
            reason: `the checkpoint's data cursor does not fit this data: ${(e as Error).message}`,
          }),
      }),
    evalBatches: () => {
      if (!evalSet) {
        const evalLoader = new BatchLoader(o.eval, {
          batchSize: o.batchSize,
          shuffle: false,
          dropLast: false,
          epochs: 1,
          prefetch: 0,
        });
        evalSet = [];
        for (let i = 0; i < Math.min(o.evalBatches, evalLoader.batchesPerEpoch); i++)
          evalSet.push(toTrainBatch(evalLoader.next()!));
      }
      return evalSet;
    },
  };
}

const syntheticTask = (
  data: Exclude<RunConfig['data'], { kind: 'corpus' }>,
  seqLen: number,
): SyntheticTask => {
  const common = {
    vocabSize: data.vocabSize,
    seqLen,
    numKvPairs: data.numKvPairs,
    powerA: data.powerA,
    randomNonQueries: data.randomNonQueries,
  };
  switch (data.kind) {
    case 'mqar':
      return new MqarTask(common);
    case 'mqar-compositional':
      return new CompositionalMqarTask(common);
    case 'mqar-variable-keys':
      return new VariableKeyMqarTask({
        ...common,
        minKeyLength: data.minKeyLength,
        maxKeyLength: data.maxKeyLength,
      });
  }
};

/** Builds the data of a run config (what {@link TrainData.layer} provides). */
export const makeTrainData = (config: RunConfig): Effect.Effect<TrainDataShape, DataError> =>
  Effect.gen(function* () {
    const { data, batch, seed } = config;
    if (data.kind === 'corpus') {
      const corpus = yield* Effect.tryPromise({
        try: () => openTokenCorpus(data.path),
        catch: (e) =>
          new DataError({ reason: `cannot open the corpus at ${data.path}: ${(e as Error).message}` }),
      });
      return yield* Effect.try({
        try: () => {
          const options = {
            seqLen: batch.seqLen,
            validationFraction: data.validationFraction,
            splitSeed: seed,
          };
          const train = new PackedSequenceSource(corpus, { ...options, split: 'train' });
          const evalSource = new PackedSequenceSource(corpus, { ...options, split: 'validation' });
          if (evalSource.length === 0)
            throw new Error(`no validation windows of ${batch.seqLen} tokens: raise data.validationFraction`);
          return fromSources({
            description: `corpus ${data.path} (${corpus.manifest.tokenizer.id}, ${corpus.tokens} tokens)`,
            task: 'lm',
            vocabSize: corpus.vocabSize,
            train,
            eval: evalSource,
            batchSize: batch.size,
            evalBatches: config.eval.batches,
            seed,
            shuffle: data.shuffle,
          });
        },
        catch: (e) => new DataError({ reason: (e as Error).message }),
      });
    }
    return yield* Effect.try({
      try: () => {
        const task = syntheticTask(data, batch.seqLen);
        const train = new SyntheticSource(task, { split: 'train', numExamples: data.trainExamples, seed });
        const evalSource = new SyntheticSource(task, {
          split: 'validation',
          numExamples: data.evalExamples,
          seed,
        });
        return fromSources({
          description: `${data.kind} V=${data.vocabSize} T=${batch.seqLen} N=${data.numKvPairs}`,
          task: 'recall',
          vocabSize: data.vocabSize,
          train,
          eval: evalSource,
          batchSize: batch.size,
          evalBatches: Number.MAX_SAFE_INTEGER, // the whole (small) synthetic eval set
          seed,
          shuffle: true,
        });
      },
      catch: (e) => new DataError({ reason: `invalid ${data.kind} settings: ${(e as Error).message}` }),
    });
  });
