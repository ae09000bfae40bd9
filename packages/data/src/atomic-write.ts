import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix of every temporary file or folder this package creates; readers ignore such names. */
export const TEMP_PREFIX = '.tmp-';

/** A unique temporary path next to `path` (same folder, so the final rename stays on one filesystem). */
export const tempPathFor = (path: string): string =>
  join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one,
 * never a prefix: write a temporary sibling, fsync it, rename it over `path`, fsync the folder.
 * On any failure the temporary file is removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = tempPathFor(path);
  try {
    const fh = await open(temp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Makes a rename durable: without a folder fsync a crash can forget the new directory entry. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await fh.close();
  }
}
