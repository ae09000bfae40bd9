import type { Tensor } from './tensor.js';

/**
 * Ownership by scope: every tensor created while a scope is open belongs to
 * it and is disposed when the scope closes, unless it is returned from
 * `tidy`, passed to `keep`, or kept with `scope.keep`. Scopes are for
 * synchronous op building (a training step builds its graph synchronously and
 * awaits only on read-back).
 */
export class TensorScope implements Disposable {
  private readonly owned = new Set<Tensor>();
  private closed = false;

  constructor(private readonly parent: TensorScope | null) {}

  /** Called by the Tensor constructor. */
  track(t: Tensor): void {
    this.owned.add(t);
  }

  /** Lets `t` outlive this scope: it moves to the enclosing scope (or to no scope). */
  keep<T extends Tensor>(t: T): T {
    if (this.owned.delete(t)) this.parent?.track(t);
    return t;
  }

  /** Forgets `t` in this and every enclosing scope: the caller owns it now. */
  untrack(t: Tensor): void {
    for (let s: TensorScope | null = this; s; s = s.parent) s.owned.delete(t);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (stack[stack.length - 1] === this) stack.pop();
    else {
      const i = stack.lastIndexOf(this);
      if (i >= 0) stack.splice(i, 1);
    }
    for (const t of this.owned) t.dispose();
    this.owned.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const stack: TensorScope[] = [];

export const currentScope = (): TensorScope | null => stack[stack.length - 1] ?? null;

/** Opens a scope; close it with `using s = tensorScope()` or `s.close()`. */
export const tensorScope = (): TensorScope => {
  const s = new TensorScope(currentScope());
  stack.push(s);
  return s;
};

/** Walks a returned value (tensors, arrays, plain objects, Maps) for tensors. */
const collect = (value: unknown, out: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void => {
  if (isTensor(value)) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, isTensor);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, isTensor);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, isTensor);
};

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export const registerTensorCheck = (f: (v: unknown) => v is Tensor): void => {
  isTensorFn = f;
};

/**
 * Runs `fn` in a fresh scope: tensors it creates are disposed when it returns,
 * except those in its result (tensors, arrays, plain objects), which move to
 * the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const s = tensorScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    s.close();
    throw e;
  }
  if (result instanceof Promise) {
    s.close();
    throw new Error('tidy: the function returned a Promise; scopes are synchronous (await outside tidy)');
  }
  const keepers = new Set<Tensor>();
  collect(result, keepers, isTensorFn);
  for (const t of keepers) s.keep(t);
  s.close();
  return result;
}

/** Removes `t` from every open scope so it survives them; the caller disposes it. */
export function keep<T extends Tensor>(t: T): T {
  currentScope()?.untrack(t);
  return t;
}
