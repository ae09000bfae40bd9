import { readFileSync } from 'node:fs';
import { Schema } from 'effect';

/**
 * A study's settings: a named size, optionally overridden by a JSON file
 * (only the keys it sets replace the size's values). Decoded against the
 * study's schema with every problem reported.
 */
export const resolveStudyConfig = <A>(
  schema: Schema.Codec<A, unknown>,
  sizes: Readonly<Record<string, A>>,
  options: { readonly size?: string; readonly configFile?: string },
): A => {
  const sizeName = options.size ?? 'tiny';
  const size = sizes[sizeName];
  if (size === undefined)
    throw new Error(`unknown size "${sizeName}"; known: ${Object.keys(sizes).join(', ')}`);
  const overrides =
    options.configFile === undefined
      ? {}
      : (JSON.parse(readFileSync(options.configFile, 'utf8')) as Record<string, unknown>);
  try {
    return Schema.decodeUnknownSync(schema)({ ...(size as object), ...overrides }, { errors: 'all' });
  } catch (error) {
    throw new Error(`invalid study config:\n${error instanceof Error ? error.message : String(error)}`);
  }
};
