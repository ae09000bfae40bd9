import { Effect } from 'effect';
import { CliError } from 'effect/cli';

/**
 * Turns the trainer's typed failures into CLI user errors: the message is
 * printed (no stack trace) and the process exits with status 1.
 */
export const asUserError = <A, E extends { readonly message: string; readonly _tag: string }, R>(
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, CliError.UserError, R> =>
  Effect.mapError(effect, (error) => new CliError.UserError({ cause: error, userMessage: error.message }));
