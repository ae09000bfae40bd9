/**
 * Canonical JSON: object keys sorted, no whitespace. Two configs that mean the
 * same thing serialise to the same string, which is what makes run ids stable
 * across key order, machines and re-expansions of a grid.
 */
export const canonicalJson = (value: unknown): string => JSON.stringify(canonicalize(value, '$'));

const canonicalize = (value: unknown, path: string): unknown => {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    // NaN/Infinity would silently become null and collide with a real null.
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path}`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => canonicalize(item, `${path}[${i}]`));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      // Undefined fields are absent in JSON; dropping them keeps `{a: undefined}` == `{}`.
      if (item !== undefined) out[key] = canonicalize(item, `${path}.${key}`);
    }
    return out;
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value} at ${path}`);
};
