import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, dynconv, start, TINY, tempDir } from './cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

describe('dynconv train, end to end', () => {
  it('train --steps 3 on a tiny preset, then eval, generate and report on the run', async () => {
    const train = await dynconv(
      ['train', '--preset', 'mqar-dsc', ...TINY, '--steps', '3', '--run-dir', 'run-a'],
      dir,
    );
    expect(train.stderr).toContain('dynconv train · mqar-dsc · transformer (dynamic-qkv)');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/^done: 3 steps in .* on cpu/m);
    expect(train.stdout).toMatch(
      /^final eval: loss \d+\.\d+ \| perplexity \d+\.\d+ \| recall accuracy \d+\.\d%$/m,
    );
    const runDir = join(dir, 'run-a');
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).model.config.conv).toBe(
      'dynamic-qkv',
    );
    const records = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.type)).toEqual(['start', 'train', 'eval', 'checkpoint', 'end']);
    expect(existsSync(join(runDir, 'checkpoints', 'step-00000003', 'manifest.json'))).toBe(true);

    const evaluated = await dynconv(['eval', '--checkpoint', 'run-a', '--json'], dir);
    expect(evaluated.code).toBe(0);
    const e = JSON.parse(evaluated.stdout);
    expect(e.step).toBe(3);
    expect(e.loss).toBeCloseTo(records[2].loss, 5);

    const generated = await dynconv(['generate', '--checkpoint', 'run-a'], dir);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/^held-out example: /m);
    expect(generated.stdout).toMatch(/^recalled \d+\/2 values, decoding token by token/m);

    const ids = await dynconv(
      ['generate', '--checkpoint', 'run-a', '--prompt', '3 17 5', '--max-tokens', '4', '--temperature', '0'],
      dir,
    );
    expect(ids.code).toBe(0);
    expect(ids.stdout).toMatch(/^3 17 5 \| \d+ \d+ \d+ \d+$/m);

    await dynconv(
      ['train', '--preset', 'mqar-baseline', ...TINY, '--steps', '2', '--run-dir', 'run-b', '-q'],
      dir,
    );
    const report = await dynconv(['report', 'run-a', 'run-b', '--out', 'report.html'], dir);
    expect(report.code).toBe(0);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('mqar-dsc');
    expect(html).toContain('mqar-baseline');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('an invalid config exits 1 listing every problem with its path, before touching the device or disk', async () => {
    const r = await dynconv(
      [
        'train',
        '--set',
        'optimizer.lr=-1',
        '--set',
        'batch.size=0',
        '--set',
        'model.config.nHeads=three',
        '--set',
        'shedule.kind=cosine',
        '--run-dir',
        'bad',
      ],
      dir,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('4 problems');
    for (const path of ['optimizer.lr', 'batch.size', 'model.config.nHeads', 'shedule'])
      expect(r.stderr).toContain(`- ${path}:`);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });

  it('unknown architecture, missing file and corrupt checkpoint: clear errors, exit 1, checkpoints untouched', async () => {
    const arch = await dynconv(['train', '--set', 'model.architecture=mamba9'], dir);
    expect(arch.code).toBe(1);
    expect(arch.stderr).toContain("model.architecture: Unknown architecture 'mamba9'. Known architectures:");
    const missing = await dynconv(['train', '--config', 'nope.json'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.json: no such file');

    await dynconv(
      ['train', '--preset', 'mqar-dsc', ...TINY, '--steps', '2', '--run-dir', 'run-c', '-q'],
      dir,
    );
    const weights = join(dir, 'run-c', 'checkpoints', 'step-00000002', 'model.safetensors');
    writeFileSync(weights, readFileSync(weights).subarray(0, 100));
    const resumed = await dynconv(['train', '--resume', 'run-c', '--steps', '4'], dir);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain('corrupt checkpoint');
    expect(resumed.stderr).toMatch(/model.safetensors\n\s+\d+ bytes, the manifest says \d+/);
    expect(readdirSync(join(dir, 'run-c', 'checkpoints')).sort()).toEqual(['best.json', 'step-00000002']);
    const evalCorrupt = await dynconv(['eval', '--checkpoint', 'run-c'], dir);
    expect(evalCorrupt.code).toBe(1);
    expect(evalCorrupt.stderr).toContain('corrupt checkpoint');
  });

  it('Ctrl-C writes a checkpoint and exits cleanly; --resume continues the run', async () => {
    const child = start(
      [
        'train',
        '--preset',
        'mqar-dsc',
        ...TINY,
        '--steps',
        '100000',
        '--set',
        'logEvery=1',
        '--set',
        'eval.every=0',
        '--run-dir',
        'run-d',
      ],
      dir,
    );
    let sent = false;
    const result = await collect(child, (out) => {
      if (!sent && /step\s+2\/100000/.test(out)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/interrupted at step \d+; checkpoint written/);
    expect(result.stderr).toContain('Interrupted. Resume with: dynconv train --resume run-d');
    const steps = readdirSync(join(dir, 'run-d', 'checkpoints')).filter((n) => n.startsWith('step-'));
    expect(steps).toHaveLength(1);
    const step = Number(steps[0]!.slice(5));
    expect(step).toBeGreaterThanOrEqual(2);
    const resumed = await dynconv(['train', '--resume', 'run-d', '--set', `steps=${step + 1}`, '-q'], dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`done: ${step + 1} steps`);
  });
});
