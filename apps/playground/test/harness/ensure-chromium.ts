import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type ChromiumLookup = { readonly path: string } | { readonly skipReason: string };

/** Where Debian, Ubuntu and Google put the browser; `DYNCONV_CHROMIUM` overrides. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
];

/**
 * Finds a Chromium to drive, installing Debian's `chromium` package with apt
 * when none is there and we may (root, or password-less sudo). Only when it
 * truly cannot be had does it return a reason to skip.
 */
export async function ensureChromium(): Promise<ChromiumLookup> {
  const override = process.env['DYNCONV_CHROMIUM'];
  if (override) {
    return (await isExecutable(override))
      ? { path: override }
      : { skipReason: `DYNCONV_CHROMIUM=${override} is not an executable file` };
  }
  const found = await firstExecutable(CANDIDATES);
  if (found) return { path: found };

  const sudo = await privilegePrefix();
  if (sudo === null)
    return {
      skipReason:
        'Chromium is not installed and this user can neither apt-get install it (not root) nor sudo',
    };
  if (!(await isExecutable('/usr/bin/apt-get')))
    return { skipReason: 'Chromium is not installed and there is no apt-get to install it' };
  try {
    const apt = async (timeout: number, ...args: string[]) => {
      const [command, ...rest] = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
      await run(command!, rest, { timeout, maxBuffer: 64 << 20 });
    };
    // Waits for another apt (e.g. the setup script's Mesa install) instead of failing on its lock;
    // both steps together stay inside the test's 10-minute hook timeout.
    await apt(180_000, '-o', 'DPkg::Lock::Timeout=60', 'update', '-qq');
    await apt(360_000, '-o', 'DPkg::Lock::Timeout=60', 'install', '-y', '-qq', 'chromium');
  } catch (error) {
    const detail =
      (error as { stderr?: string }).stderr?.trim().split('\n').slice(-3).join(' | ') ?? String(error);
    return { skipReason: `Chromium is not installed and apt-get install chromium failed: ${detail}` };
  }
  const installed = await firstExecutable(CANDIDATES);
  return installed
    ? { path: installed }
    : { skipReason: 'apt-get installed chromium but no chromium binary was found' };
}

async function firstExecutable(paths: readonly string[]): Promise<string | null> {
  for (const path of paths) if (await isExecutable(path)) return path;
  return null;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `[]` as root, `['sudo', '-n']` with password-less sudo, null otherwise. */
async function privilegePrefix(): Promise<string[] | null> {
  if (process.getuid?.() === 0) return [];
  try {
    await run('sudo', ['-n', 'true'], { timeout: 10_000 });
    return ['sudo', '-n'];
  } catch {
    return null;
  }
}
