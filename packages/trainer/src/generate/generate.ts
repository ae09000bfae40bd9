import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@dynconv/architectures';
import { ByteLevelTokenizer, HuggingFaceTokenizer, readManifest, type Tokenizer } from '@dynconv/data';
import { tensor } from '@dynconv/tensor';
import { Effect } from 'effect';
import { openCheckpointModel } from '../checkpoint/open-model.js';
import type { RunConfig } from '../config/schema.js';
import { makeTrainData } from '../data/TrainData.js';
import type { DeviceChoice } from '../device/Device.js';
import { DataError } from '../errors.js';
import type { ModelV1 } from '../model/spec.js';

/** What `dynconv generate` asks for. */
export interface GenerateRequest {
  readonly checkpoint: string;
  /** Text (corpus runs) or space-separated token ids (synthetic runs). */
  readonly prompt?: string | undefined;
  readonly maxTokens: number;
  /** 0 = greedy. */
  readonly temperature: number;
  readonly topK?: number | undefined;
  readonly topP?: number | undefined;
  readonly seed: number;
  readonly device?: DeviceChoice | undefined;
}

/** Text sampled from a language model. */
export interface TextGeneration {
  readonly kind: 'text';
  readonly prompt: string;
  readonly completion: string;
  readonly tokens: number;
}

/** Free generation from token ids (synthetic runs with a prompt). */
export interface IdGeneration {
  readonly kind: 'ids';
  readonly prompt: readonly number[];
  readonly completion: readonly number[];
}

/** Recall on one held-out MQAR example, decoded token by token through the decode caches. */
export interface RecallDemo {
  readonly kind: 'recall';
  readonly example: readonly number[];
  /** Per query: its position, the key token, the expected and the predicted value. */
  readonly queries: readonly { position: number; key: number; expected: number; predicted: number }[];
}

export type Generation = TextGeneration | IdGeneration | RecallDemo;

/** The tokenizer a prepared corpus was made with. */
export const corpusTokenizer = (dir: string): Effect.Effect<Tokenizer, DataError> =>
  Effect.tryPromise({
    try: async () => {
      const manifest = await readManifest(dir);
      if (manifest.tokenizer.id === 'byte-level') return new ByteLevelTokenizer();
      const file = join(dir, 'tokenizer.json');
      if (!existsSync(file))
        throw new Error(
          `the corpus was made with tokenizer '${manifest.tokenizer.id}' but has no tokenizer.json`,
        );
      return await HuggingFaceTokenizer.load(file);
    },
    catch: (e) => new DataError({ reason: `cannot load the tokenizer of ${dir}: ${(e as Error).message}` }),
  });

const parseIds = (text: string, vocabSize: number): Effect.Effect<number[], DataError> => {
  const ids = text
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  const bad = ids.find((i) => !Number.isInteger(i) || i < 0 || i >= vocabSize);
  return bad !== undefined || ids.length === 0
    ? Effect.fail(
        new DataError({
          reason: `this run's prompts are token ids in [0, ${vocabSize}) separated by spaces; got '${text}'`,
        }),
      )
    : Effect.succeed(ids);
};

/**
 * Feeds one example through `step` a token at a time (prefill up to the first
 * query, then one token per step) and reads the prediction at each query.
 */
const recallDemo = async (model: ModelV1, inputs: Int32Array, targets: Int32Array): Promise<RecallDemo> => {
  const T = inputs.length;
  const first = targets.findIndex((t) => t !== -100);
  const backend = model.parameters.values().next().value?.backend;
  const place = backend ? { backend } : {};
  let state = model.initState(1, T);
  const queries: RecallDemo['queries'][number][] = [];
  try {
    let pos = 0;
    let chunk = inputs.subarray(0, first + 1);
    while (pos < T) {
      const ids = tensor(chunk, { shape: [1, chunk.length], dtype: 'i32', ...place });
      const r = model.step(ids, state);
      ids.dispose();
      state = r.state;
      const last = pos + chunk.length - 1;
      if (targets[last] !== -100) {
        const row = r.logits.narrow(1, chunk.length - 1, 1);
        const predicted = (await row.argmax(-1).data())[0]!;
        row.dispose();
        queries.push({ position: last, key: inputs[last]!, expected: targets[last]!, predicted });
      }
      r.logits.dispose();
      pos = last + 1;
      chunk = inputs.subarray(pos, pos + 1);
    }
  } finally {
    model.disposeState(state);
  }
  return { kind: 'recall', example: [...inputs], queries };
};

/** Samples from a checkpoint with the model's decode caches. */
export const generateFromCheckpoint = (request: GenerateRequest) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { resolved, model } = yield* openCheckpointModel(request.checkpoint, request.device);
      const config: RunConfig = resolved.config;
      const sampling = {
        maxNewTokens: request.maxTokens,
        temperature: request.temperature,
        seed: request.seed,
        ...(request.topK !== undefined ? { topK: request.topK } : {}),
        ...(request.topP !== undefined ? { topP: request.topP } : {}),
      };
      if (config.data.kind === 'corpus') {
        const tokenizer = yield* corpusTokenizer(config.data.path);
        const prompt = request.prompt ?? '\n';
        const ids = [...tokenizer.encode(prompt)];
        if (ids.length === 0) return yield* new DataError({ reason: 'the prompt encodes to no tokens' });
        const [out] = yield* Effect.promise(() => generate(model.model, [ids], sampling));
        return {
          kind: 'text',
          prompt,
          completion: tokenizer.decode(out!),
          tokens: out!.length,
        } satisfies Generation;
      }
      if (request.prompt !== undefined) {
        const ids = yield* parseIds(request.prompt, config.data.vocabSize);
        const [out] = yield* Effect.promise(() => generate(model.model, [ids], sampling));
        return { kind: 'ids', prompt: ids, completion: out! } satisfies Generation;
      }
      const data = yield* makeTrainData(config);
      const batch = data.evalBatches()[0]!;
      const T = batch.seqLen;
      const row = request.seed % batch.batchSize;
      return yield* Effect.promise(() =>
        recallDemo(
          model.model,
          batch.inputs.subarray(row * T, (row + 1) * T),
          batch.targets.subarray(row * T, (row + 1) * T),
        ),
      );
    }),
  );
