import type { Backend, View } from '@dynconv/tensor';

/** A backend whose buffers the host can read synchronously (the CPU backend). */
export interface HostReadable extends Backend {
  readSync(view: View): ArrayLike<number>;
}

/** The backend when its data can be read synchronously on the host (CPU), else null. */
export const hostReadable = (backend: Backend): HostReadable | null =>
  typeof (backend as Partial<HostReadable>).readSync === 'function' ? (backend as HostReadable) : null;
