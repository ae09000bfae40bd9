/**
 * Turns a synchronous producer into an async iterator that keeps up to `depth` items ready.
 * Production happens in `setImmediate` callbacks, one item per callback, i.e. while the consumer
 * is awaiting something else (a GPU step, I/O): the next `next()` then resolves at once. When the
 * queue is empty the consumer's `next()` produces inline. `produce` returning `undefined` ends the
 * iteration; a throw is delivered to the consumer's next `next()`.
 */
export function prefetch<T>(produce: () => T | undefined, depth: number): AsyncIterableIterator<T> {
  if (!(Number.isInteger(depth) && depth >= 0))
    throw new RangeError(`prefetch depth must be an integer >= 0, got ${depth}`);
  const queue: T[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let scheduled = false;

  const produceOne = (): void => {
    try {
      const item = produce();
      if (item === undefined) finished = true;
      else queue.push(item);
    } catch (error) {
      failure = { error };
      finished = true;
    }
  };
  const refill = (): void => {
    scheduled = false;
    if (finished || queue.length >= depth) return;
    produceOne();
    schedule();
  };
  const schedule = (): void => {
    if (scheduled || finished || queue.length >= depth) return;
    scheduled = true;
    setImmediate(refill);
  };

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (queue.length === 0 && !finished) produceOne();
      if (queue.length > 0) {
        const value = queue.shift()!;
        schedule();
        return Promise.resolve({ value, done: false });
      }
      if (failure !== undefined) {
        const { error } = failure;
        failure = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    },
    return(): Promise<IteratorResult<T>> {
      finished = true;
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
