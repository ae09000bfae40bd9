import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/backend.js';

let defaultBackend: Backend | null = null;

/**
 * The backend new tensors go to when none is given. Starts as the CPU
 * reference backend; `setDefaultBackend(await createWebGPUBackend(...))`
 * switches (see `@dynconv/tensor/node` for Dawn in Node).
 */
export const getDefaultBackend = (): Backend => {
  defaultBackend ??= new CpuBackend();
  return defaultBackend;
};

export const setDefaultBackend = (backend: Backend): void => {
  defaultBackend = backend;
};
