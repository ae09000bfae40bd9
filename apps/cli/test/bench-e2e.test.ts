import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dynconv, tempDir } from './cli.js';

/** A model small enough for llvmpipe: the benchmark's code path, not its size. */
const TINY_MODEL = ['--layers', '1', '--d-model', '32', '--heads', '2', '--hidden', '48', '--vocab', '97'];
const SHORT = ['--batch', '2', '--seq', '16', '--steps', '2', '--warmup', '1'];

describe('dynconv bench e2e', () => {
  it('times every variant x mode on WebGPU, prints a row each and writes the JSON report', async () => {
    const { dir: out, cleanup } = tempDir();
    const r = await dynconv(['bench', 'e2e', ...TINY_MODEL, ...SHORT, '--out', out], process.cwd());
    expect(r.stderr).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'e2e-webgpu.json'), 'utf8'));
    expect(report.options.layers).toBe(1);
    const rows = report.rows as {
      variant: string;
      mode: string;
      parameters: number;
      tokensPerSec: number;
      dispatchesPerStep: number;
      compilesAfterFirstStep: number;
      losses: number[];
      loop: string;
      skippedSteps?: number;
    }[];
    expect(rows.map((row) => `${row.variant}/${row.mode}`)).toEqual([
      'plain/f32',
      'plain/mixed',
      'dsc/f32',
      'dsc/mixed',
    ]);
    for (const row of rows) {
      expect(r.stdout).toMatch(new RegExp(`^${row.variant}\\s+${row.mode}\\s+B=2 .* ms/step`, 'm'));
      expect(row.tokensPerSec).toBeGreaterThan(0);
      expect(row.dispatchesPerStep).toBeGreaterThan(10);
      // Pipelines and bind groups are made in the warm-up step: none compiled in the timed ones.
      expect(row.compilesAfterFirstStep).toBe(0);
      expect(row.loop).toBe('device');
      // Warm-up + timed steps, every loss read back (late) and finite, training on a fixed batch.
      expect(row.losses).toHaveLength(3);
      for (const loss of row.losses) expect(Number.isFinite(loss)).toBe(true);
      expect(row.losses[2]!).toBeLessThan(row.losses[0]!);
      if (row.mode === 'mixed') expect(row.skippedSteps).toBe(0);
    }
    // DSC adds the convs' generator and filter parameters.
    expect(rows[2]!.parameters).toBeGreaterThan(rows[0]!.parameters);
    cleanup();
  }, 240_000);

  it('lists every invalid option before touching the GPU', async () => {
    const r = await dynconv(
      ['bench', 'e2e', '--d-model', '30', '--heads', '4', '--steps', '0', '--modes', 'f32,bf16'],
      process.cwd(),
    );
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toContain('heads: 4 does not divide dModel 30');
    expect(all).toContain('steps: must be a positive integer, got 0');
    expect(all).toContain("modes: unknown 'bf16'");
  });
});
