import { Schema } from 'effect';

/**
 * Schema building blocks shared by the plugins' configs, and the decode
 * helper that reports every problem with its path.
 */

export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0));
export const PositiveNumber = Schema.Finite.check(Schema.isGreaterThan(0));
/** A fraction in (0, 1]. */
export const Fraction = Schema.Finite.check(
  Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true }),
);

/** One cross-field problem: where (a path into the config) and what. */
export interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** A check that runs a validator over the decoded value and reports all its issues at their paths. */
export const crossFieldCheck = <T>(validate: (value: T) => readonly ConfigIssue[]) =>
  Schema.makeFilter<T>((value) => validate(value).map((i) => ({ path: [...i.path], issue: i.message })));

/**
 * Decodes an unknown value (e.g. parsed JSON) with `schema`, filling defaults;
 * throws a `SchemaError` whose message lists every problem with its path.
 */
export const decodeConfig = <T>(schema: Schema.Codec<T, unknown>, input: unknown): T =>
  Schema.decodeUnknownSync(schema)(input, { errors: 'all' });
