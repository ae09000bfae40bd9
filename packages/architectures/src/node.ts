/**
 * Node-only helpers of @dynconv/architectures (file system). The main entry
 * stays browser-safe.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { Tensor } from '@dynconv/tensor';
import { decodeSafetensors, encodeSafetensors, type SafetensorsFile } from './checkpoint/safetensors.js';
import { loadParameters, toSafetensorsEntries } from './checkpoint/state-dict.js';

/**
 * Writes `parameters` (e.g. `model.parameters`) to a safetensors file,
 * atomically: the bytes go to a temporary file in the same directory, are
 * flushed to disk, and the temporary file is renamed over `path`.
 */
export async function saveSafetensors(
  path: string,
  parameters: ReadonlyMap<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(await toSafetensorsEntries(parameters), metadata);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Reads and validates a safetensors file; errors name the file and byte offset. */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Loads a safetensors file into existing parameters in place (see `loadParameters`). */
export async function loadSafetensorsInto(
  path: string,
  parameters: ReadonlyMap<string, Tensor>,
  options: { readonly strict?: boolean } = {},
): Promise<{ missing: string[]; unexpected: string[]; metadata: Record<string, string> }> {
  const file = await loadSafetensors(path);
  return { ...loadParameters(parameters, file.tensors, options), metadata: file.metadata };
}
