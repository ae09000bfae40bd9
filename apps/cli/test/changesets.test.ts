import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every `.changeset/*.md` has the frontmatter `changeset version` reads
 * (`---`, one `"package": major|minor|patch` line per package, `---`) and
 * names workspace packages. Why a test: four changesets had been rewritten
 * by a markdown formatter into `## "package": minor` headings, which
 * `changeset status` rejects, and nothing noticed.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const workspaceNames = new Set(
  ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group)).flatMap((dir) => {
      try {
        return [JSON.parse(readFileSync(join(root, group, dir, 'package.json'), 'utf8')).name as string];
      } catch {
        return [];
      }
    }),
  ),
);
const files = readdirSync(join(root, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');

describe('changesets', () => {
  it.each(files)('%s has valid frontmatter naming workspace packages', (file) => {
    const text = readFileSync(join(root, '.changeset', file), 'utf8');
    const match = /^---\n((?:["'][^"'\n]+["']: (?:major|minor|patch)\n)+)---\n\n\S/.exec(text);
    expect(match, `${file}: frontmatter`).not.toBeNull();
    for (const line of match![1]!.trim().split('\n')) {
      const name = /^["']([^"']+)["']/.exec(line)![1]!;
      expect(workspaceNames, `${file}: unknown package ${name}`).toContain(name);
    }
  });
});
