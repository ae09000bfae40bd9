import type { Backend } from '../backend.js';

interface DispatchingRuntime {
  dispatch(spec: { readonly pipelineKey: string }): void;
}

/**
 * The pipeline keys `fn` dispatches on a WebGPU backend, in order, without
 * the runtime's own buffer fills (`runtime.*`: tests poison every new buffer
 * with NaN). Other backends dispatch nothing: `fn` runs and the list is empty.
 */
export function dispatchedKeys(backend: Backend, fn: () => void): string[] {
  const rt = (backend as { runtime?: DispatchingRuntime }).runtime;
  const keys: string[] = [];
  if (!rt) {
    fn();
    return keys;
  }
  const dispatch = rt.dispatch;
  rt.dispatch = function (this: DispatchingRuntime, spec) {
    if (!spec.pipelineKey.startsWith('runtime.')) keys.push(spec.pipelineKey);
    return dispatch.call(this, spec);
  };
  try {
    fn();
  } finally {
    rt.dispatch = dispatch;
  }
  return keys;
}
