import { decodeSafetensors, encodeSafetensors, type SafetensorsEntry } from '@dynconv/architectures';

/**
 * Named host tensors <-> safetensors bytes, through the codec of
 * `@dynconv/architectures`, so checkpoints load in any safetensors reader.
 * f32 data is passed as raw bytes: the round trip is bit-exact.
 */

/** A tensor on the host, as stored in a file. */
export interface HostTensor {
  readonly dtype: 'f32' | 'f16' | 'i32';
  readonly shape: readonly number[];
  /** f16 data is held widened to f32. */
  readonly data: Float32Array | Int32Array;
}

const FILE_DTYPE = { f32: 'F32', f16: 'F16', i32: 'I32' } as const;

/** Encodes tensors (in the given order) plus string metadata. */
export function encodeTensorFile(
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, t] of tensors)
    entries.set(name, {
      dtype: FILE_DTYPE[t.dtype],
      shape: t.shape,
      data: t.dtype === 'f16' ? t.data : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    });
  return encodeSafetensors(entries, metadata);
}

/** Decodes a safetensors file; throws an Error naming what is malformed. */
export function decodeTensorFile(
  bytes: Uint8Array,
  source = 'safetensors',
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const file = decodeSafetensors(bytes, source);
  const tensors = new Map<string, HostTensor>();
  for (const [name, e] of file.tensors) {
    if (e.dtype === 'F32' || e.dtype === 'F16')
      tensors.set(name, {
        dtype: e.dtype === 'F32' ? 'f32' : 'f16',
        shape: e.shape,
        data: Float32Array.from(e.data),
      });
    else if (e.dtype === 'I32')
      tensors.set(name, { dtype: 'i32', shape: e.shape, data: e.data as Int32Array });
    else throw new Error(`tensor '${name}' has dtype ${e.dtype}, which checkpoints do not use`);
  }
  return { tensors, metadata: file.metadata };
}
