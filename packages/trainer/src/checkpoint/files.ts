import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix of folders and files being written; readers skip them, writers clean them up. */
export const TEMP_PREFIX = '.tmp-';

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Writes and fsyncs one file (it must not exist yet). */
export async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a folder so that renames and new entries in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on folders; the rename itself is still atomic.
  } finally {
    await fh.close();
  }
}

/** Replaces `path` with `data` atomically (temp sibling + fsync + rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = join(
    dirname(path),
    `${TEMP_PREFIX}${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    await writeSynced(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * Creates folder `final` atomically: `fill` writes into a temporary sibling,
 * which is fsynced and renamed into place only when `fill` succeeds. Readers
 * see either no folder (or the previous one) or the complete new one.
 */
export async function writeFolderAtomic(final: string, fill: (temp: string) => Promise<void>): Promise<void> {
  const parent = dirname(final);
  await mkdir(parent, { recursive: true });
  const temp = join(
    parent,
    `${TEMP_PREFIX}${basename(final)}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(temp);
  try {
    await fill(temp);
    await syncDir(temp);
    if (await exists(final)) {
      // Same step written again (e.g. after a resume): move the old one aside first.
      const trash = join(parent, `${TEMP_PREFIX}old-${basename(final)}-${randomBytes(4).toString('hex')}`);
      await rename(final, trash);
      await rename(temp, final);
      await rm(trash, { recursive: true, force: true });
    } else await rename(temp, final);
  } catch (e) {
    await rm(temp, { recursive: true, force: true });
    throw e;
  }
  await syncDir(parent);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Removes leftovers of interrupted writes in `dir`. */
export async function removeTempEntries(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((n) => n.startsWith(TEMP_PREFIX))
      .map((n) => rm(join(dir, n), { recursive: true, force: true })),
  );
}

export const readBytes = async (path: string): Promise<Uint8Array> => new Uint8Array(await readFile(path));
