import { Effect, Result, Schema, SchemaIssue } from 'effect';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { Architectures } from '../model/Architectures.js';
import { RunConfig } from './schema.js';

/** A run config with the plugin's config decoded by the plugin's schema. */
export interface ResolvedConfig {
  readonly config: RunConfig;
  readonly modelConfig: unknown;
}

/** `["optimizer", "betas", 1]` -> `optimizer.betas[1]`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );

const formatter = SchemaIssue.makeFormatterStandardSchemaV1();

/** Decodes `input` with `schema`, reporting every issue (and unknown keys) with its path under `prefix`. */
export function decodeAll<A>(
  schema: Schema.Codec<A, unknown>,
  input: unknown,
  prefix: readonly PropertyKey[] = [],
): Result.Result<A, ConfigProblem[]> {
  const result = Schema.decodeUnknownResult(schema)(input, { errors: 'all', onExcessProperty: 'error' });
  if (Result.isSuccess(result)) return Result.succeed(result.success);
  return Result.fail(
    formatter(result.failure.issue).issues.map((i) => ({
      path: formatPath([
        ...prefix,
        ...(i.path ?? []).map((seg) => (typeof seg === 'object' ? seg.key : seg)),
      ]),
      message: i.message,
    })),
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Constraints between fields that single-field schemas cannot see. */
export function crossFieldProblems(config: RunConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.precision === 'mixed' && config.device === 'cpu')
    problems.push({ path: 'precision', message: "'mixed' runs on the WebGPU device only (device is 'cpu')" });
  const T = config.batch.seqLen;
  const { data } = config;
  if (data.kind !== 'corpus') {
    const N = data.numKvPairs;
    if (T % 2 !== 0)
      problems.push({
        path: 'batch.seqLen',
        message: `${data.kind} needs an even sequence length, got ${T}`,
      });
    if (!(data.vocabSize > T))
      problems.push({
        path: 'data.vocabSize',
        message: `${data.kind} needs vocabSize > batch.seqLen (${data.vocabSize} <= ${T})`,
      });
    if (data.kind === 'mqar' && 4 * N > T)
      problems.push({
        path: 'data.numKvPairs',
        message: `mqar needs 4 * numKvPairs <= batch.seqLen (4 * ${N} > ${T})`,
      });
    if (data.kind === 'mqar-compositional') {
      if (!Number.isInteger(Math.sqrt(N)))
        problems.push({
          path: 'data.numKvPairs',
          message: `mqar-compositional needs a perfect square, got ${N}`,
        });
      if (6 * N > T)
        problems.push({
          path: 'data.numKvPairs',
          message: `mqar-compositional needs 6 * numKvPairs <= batch.seqLen (6 * ${N} > ${T})`,
        });
    }
    if (data.kind === 'mqar-variable-keys') {
      if (data.minKeyLength > data.maxKeyLength)
        problems.push({
          path: 'data.minKeyLength',
          message: `must not exceed data.maxKeyLength (${data.minKeyLength} > ${data.maxKeyLength})`,
        });
      const need = N * (data.maxKeyLength + 2) + N * (data.maxKeyLength + 1);
      if (need > T)
        problems.push({
          path: 'data.numKvPairs',
          message: `mqar-variable-keys needs ${need} positions, batch.seqLen is ${T}`,
        });
    }
  }
  return problems;
}

/**
 * Decodes a raw run config (file + preset + overrides already merged): the
 * run config, the architecture name against the registry, the plugin config
 * with the plugin's own schema, and cross-field constraints. Every problem is
 * reported at once, each with its path.
 */
export const resolveConfig = (
  raw: unknown,
  source: string,
): Effect.Effect<ResolvedConfig, ConfigError, Architectures> =>
  Effect.gen(function* () {
    const architectures = yield* Architectures;
    const problems: ConfigProblem[] = [];
    const decoded = decodeAll(RunConfig, raw);
    if (Result.isFailure(decoded)) problems.push(...decoded.failure);

    let modelConfig: unknown;
    const model = isRecord(raw) ? raw['model'] : undefined;
    const name = isRecord(model) ? model['architecture'] : undefined;
    if (typeof name === 'string') {
      const found = yield* Effect.result(architectures.get(name));
      if (Result.isFailure(found)) {
        problems.push({ path: 'model.architecture', message: found.failure.message });
      } else {
        const pluginConfig = decodeAll(
          found.success.configSchema,
          isRecord(model) ? (model['config'] ?? {}) : {},
          ['model', 'config'],
        );
        if (Result.isFailure(pluginConfig)) problems.push(...pluginConfig.failure);
        else modelConfig = pluginConfig.success;
      }
    }
    if (Result.isSuccess(decoded)) problems.push(...crossFieldProblems(decoded.success));
    if (problems.length > 0 || Result.isFailure(decoded)) return yield* new ConfigError({ source, problems });
    return { config: decoded.success, modelConfig };
  });

/** The config as written to `<runDir>/config.json`: explicit, with the decoded plugin config. */
export const resolvedJson = (r: ResolvedConfig): RunConfig => ({
  ...r.config,
  model: { architecture: r.config.model.architecture, config: r.modelConfig },
});
