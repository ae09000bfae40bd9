import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynconv, tempDir } from './cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  const paragraphs = Array.from(
    { length: 60 },
    (_, i) =>
      `ROMEO ${i}:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.`,
  );
  writeFileSync(join(dir, 'play.txt'), paragraphs.join('\n\n'));
});
afterAll(() => cleanup());

describe('a text corpus trains the same way', () => {
  it('prepare -> train --preset tinylm-dsc -> eval -> generate text', async () => {
    const prepared = await dynconv(['prepare', 'play.txt', '--out', 'corpus'], dir);
    expect(prepared.code).toBe(0);
    expect(prepared.stdout).toMatch(
      /wrote .*manifest.json: 60 documents, \d+ tokens \(byte-level, vocabulary 256\)/,
    );
    const tiny = [
      '--set',
      'data.path=corpus',
      '--set',
      'data.validationFraction=0.2',
      '--device',
      'cpu',
      '--set',
      'batch.size=2',
      '--set',
      'batch.seqLen=16',
    ];
    const shrink = [
      '--set',
      'model.config.dModel=16',
      '--set',
      'model.config.nHeads=1',
      '--set',
      'model.config.nLayers=1',
      '--set',
      'model.config.mlpHidden=16',
      '--set',
      'model.config.dsc.rank=2',
      '--set',
      'eval.batches=2',
    ];
    const train = await dynconv(
      ['train', '--preset', 'tinylm-dsc', ...tiny, ...shrink, '--steps', '2', '--run-dir', 'lm', '-q'],
      dir,
    );
    expect(train.stderr).toContain('dynconv train · tinylm-dsc');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/final eval: .* token accuracy/);
    const generated = await dynconv(
      ['generate', '--checkpoint', 'lm', '--prompt', 'ROMEO', '--max-tokens', '12', '--seed', '1'],
      dir,
    );
    expect(generated.code).toBe(0);
    expect(generated.stdout.startsWith('ROMEO')).toBe(true);
    expect(Buffer.byteLength(generated.stdout)).toBeGreaterThanOrEqual(5);
  });

  it('a missing corpus is a clear error', async () => {
    const r = await dynconv(
      ['train', '--preset', 'tinylm-baseline', '--device', 'cpu', '--set', 'data.path=nowhere'],
      dir,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Data: cannot open the corpus at nowhere');
  });
});
