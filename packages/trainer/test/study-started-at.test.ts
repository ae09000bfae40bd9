import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { studyStartedAt } from '../src/studies/common/started-at.js';

describe('studyStartedAt', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'dynconv-started-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('records the first start and returns it on every later run', () => {
    const dir = join(fresh(), 'study');
    const first = new Date('2026-11-22T07:50:00.000Z');
    expect(studyStartedAt(dir, first).toISOString()).toBe(first.toISOString());
    expect(readFileSync(join(dir, 'started-at.txt'), 'utf8').trim()).toBe(first.toISOString());
    expect(studyStartedAt(dir, new Date('2026-11-22T08:10:00.000Z')).toISOString()).toBe(first.toISOString());
  });

  it('names the file when its content is not a date', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'started-at.txt'), 'yesterday\n');
    expect(() => studyStartedAt(dir)).toThrow(/started-at\.txt: not an ISO date: 'yesterday'/);
  });
});
