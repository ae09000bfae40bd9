/**
 * A tiny stand-in for the parts of vitest the `test/webgpu-*.test.ts` files
 * use, so they can be bundled (esbuild `--alias:vitest=...`) and run on the
 * GPU machine, which has no node_modules. See `device-tests.ts`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a stand-in for vitest's loosely typed callbacks
type Fn = (...args: any[]) => unknown;
interface Registered {
  name: string;
  run: (ctx: Record<string, unknown>) => Promise<void>;
}
export const registry: Registered[] = [];
const prefix: string[] = [];
const fixtures = new Map<string, () => Promise<unknown>>();
const cleanups: (() => unknown)[] = [];

class Skip extends Error {}

const format = (name: string, value: unknown): string => {
  const values = Array.isArray(value) ? [...value] : [value];
  return name.replace(/%[sid]/g, () => String(values.shift()));
};

// biome-ignore lint/suspicious/noExplicitAny: callable with properties, like vitest's TestAPI
function makeTest(): any {
  const t = (name: string, fn: Fn) => {
    registry.push({ name: [...prefix, name].join(' > '), run: async (ctx) => void (await fn(ctx)) });
  };
  t.for = (cases: readonly unknown[]) => (name: string, fn: Fn) => {
    for (const c of cases)
      registry.push({
        name: [...prefix, format(name, c)].join(' > '),
        run: async (ctx) => void (await fn(c, ctx)),
      });
  };
  t.extend = (name: string, _opts: unknown, fn: Fn) => {
    let value: Promise<unknown> | undefined;
    // A fixture may use the ones declared before it (vitest passes them in); cleanups run last-in first-out.
    const earlier = [...fixtures];
    const make = async () => {
      const deps: Record<string, unknown> = {};
      for (const [n, dep] of earlier) deps[n] = await dep();
      return fn(deps, { onCleanup: (c: () => unknown) => cleanups.unshift(c) });
    };
    fixtures.set(name, () => (value ??= make()));
    return t;
  };
  return t;
}

export const test = makeTest();
export const it = test;
export const describe = (name: string, fn: () => void): void => {
  prefix.push(name);
  try {
    fn();
  } finally {
    prefix.pop();
  }
};

const same = (a: unknown, b: unknown): boolean => {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || (a === b && a !== 0);
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    const x = Array.from(a as ArrayLike<unknown>);
    const y = Array.isArray(b) || ArrayBuffer.isView(b) ? Array.from(b as ArrayLike<unknown>) : null;
    return y !== null && x.length === y.length && x.every((v, i) => same(v, y[i]));
  }
  return Object.is(a, b);
};

// biome-ignore lint/suspicious/noExplicitAny: matchers accept any value
export function expect(actual: any) {
  const fail = (what: string): never => {
    throw new Error(`expected ${JSON.stringify(actual)?.slice(0, 200)} ${what}`);
  };
  return {
    toBe: (e: unknown) => void (Object.is(actual, e) || fail(`to be ${String(e)}`)),
    toEqual: (e: unknown) => void (same(actual, e) || fail(`to equal ${JSON.stringify(e)?.slice(0, 200)}`)),
    toBeNull: () => void (actual === null || fail('to be null')),
    toHaveLength: (n: number) => void (actual?.length === n || fail(`to have length ${n}`)),
    toBeInstanceOf: (c: Fn) => void (actual instanceof c || fail(`to be an instance of ${c.name}`)),
    toContain: (e: string) => void (String(actual).includes(e) || fail(`to contain ${e}`)),
    toBeGreaterThanOrEqual: (e: number) => void (actual >= e || fail(`>= ${e}`)),
    toBeLessThanOrEqual: (e: number) => void (actual <= e || fail(`<= ${e}`)),
    toThrow: (c?: Fn) => {
      try {
        actual();
      } catch (error) {
        if (c && !(error instanceof c)) fail(`to throw ${c.name}, threw ${String(error)}`);
        return;
      }
      fail('to throw');
    },
  };
}

/** Runs every registered test sequentially; returns the number of failures. */
export async function runAll(filter?: RegExp): Promise<number> {
  let failed = 0;
  let passed = 0;
  let skipped = 0;
  for (const t of registry) {
    if (filter && !filter.test(t.name)) continue;
    const ctx: Record<string, unknown> = {
      skip: (note?: string) => {
        throw new Skip(note ?? '');
      },
    };
    for (const [name, make] of fixtures) ctx[name] = await make();
    const t0 = performance.now();
    try {
      await t.run(ctx);
      passed++;
      console.log(`  ok   ${t.name} (${(performance.now() - t0).toFixed(0)} ms)`);
    } catch (error) {
      if (error instanceof Skip) {
        skipped++;
        console.log(`  skip ${t.name}${error.message ? ` (${error.message})` : ''}`);
        continue;
      }
      failed++;
      console.log(`  FAIL ${t.name}: ${(error as Error).message}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  for (const c of cleanups) await c();
  return failed;
}
