/** A shape, dtype or argument problem in a tensor op; the message names the op and the shapes. */
export class TensorError extends Error {
  override readonly name = 'TensorError';
  constructor(
    readonly op: string,
    detail: string,
  ) {
    super(`${op}: ${detail}`);
  }
}

/** A failure reported by the GPU (validation, out of memory, lost device), surfaced as an exception. */
export class GpuError extends Error {
  override readonly name = 'GpuError';
}

export const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
