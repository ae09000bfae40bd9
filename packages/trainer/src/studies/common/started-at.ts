import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * When a resumable study in `outDir` first started: read from
 * `<outDir>/started-at.txt`, or now (and recorded, atomically) on the first
 * run. Why: a study split over several invocations (e.g. time-boxed device
 * calls) should report its whole span, not the last invocation's.
 */
export function studyStartedAt(outDir: string, now: Date = new Date()): Date {
  const path = join(outDir, 'started-at.txt');
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) throw new Error(`${path}: not an ISO date: '${text.slice(0, 40)}'`);
    return at;
  }
  mkdirSync(outDir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${now.toISOString()}\n`);
  renameSync(tmp, path);
  return now;
}
