/**
 * `--set path=value` overrides, applied to the raw config before decoding so
 * that the schema validates them like any other field.
 */

/** One parsed override. */
export interface Override {
  readonly path: readonly string[];
  readonly value: unknown;
}

/**
 * Parses `optimizer.lr=1e-3`. The value is read as JSON when it parses
 * (`1e-3`, `true`, `[1,2]`, `{"a":1}`, `"x"`), else kept as a plain string
 * (`schedule.kind=cosine`).
 */
export function parseOverride(text: string): Override | { readonly error: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) return { error: `'${text}' is not of the form path=value (e.g. optimizer.lr=1e-3)` };
  const path = text.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) return { error: `'${text.slice(0, eq)}' is not a valid dotted path` };
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: a bare string such as `cosine`.
  }
  return { path, value };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns a copy of `config` with `value` at `path`, creating objects on the way. */
export function setPath(config: unknown, path: readonly string[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (Array.isArray(config) && /^\d+$/.test(head)) {
    const copy = [...config];
    copy[Number(head)] = setPath(copy[Number(head)], rest, value);
    return copy;
  }
  const base = isPlainObject(config) ? config : {};
  return { ...base, [head]: setPath(base[head], rest, value) };
}

/** Deep merge of plain objects (`over` wins; arrays and scalars replace). */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}
