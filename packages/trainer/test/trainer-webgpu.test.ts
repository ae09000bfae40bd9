import { join } from 'node:path';
import { Exit } from 'effect';
import { describe, expect, it } from 'vitest';
import {
  failureOf,
  runTiny,
  tempDirsPerTest,
  tinyConfig,
  trainLosses,
  writeConfig,
} from './support/harness.js';

/**
 * The training loop on WebGPU (llvmpipe here), where clipping, the overflow
 * skip and the loss scale are decided on the GPU (`DeviceStepControl`) and the
 * loop records step n+1 before it reads step n's outcome. (Non-finite steps on
 * WebGPU: `trainer.test.ts`.)
 */
const newDir = tempDirsPerTest();
const gpuConfig = (over: Record<string, unknown> = {}) => tinyConfig({ device: 'webgpu', ...over });

describe('training loop on WebGPU (device-decided steps)', () => {
  it('books every step once, evaluates and checkpoints at the same steps, and follows the CPU run', async () => {
    const dir = newDir();
    const gpu = await runTiny({ configFile: writeConfig(dir, gpuConfig()), runDir: join(dir, 'gpu') });
    expect(Exit.isSuccess(gpu.exit)).toBe(true);
    const cpu = await runTiny({ configFile: writeConfig(dir, tinyConfig()), runDir: join(dir, 'cpu') });
    expect(gpu.summary!.steps).toBe(12);
    expect(trainLosses(gpu.records).map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(gpu.records.filter((r) => r.type === 'eval').map((r) => r.step)).toEqual([6, 12]);
    expect(gpu.records.filter((r) => r.type === 'checkpoint').map((r) => r.step)).toEqual(
      cpu.records.filter((r) => r.type === 'checkpoint').map((r) => r.step),
    );
    // Same math in another summation order: the curves agree to f32 rounding.
    const cpuLosses = trainLosses(cpu.records);
    for (const [i, [, loss]] of trainLosses(gpu.records).entries())
      expect(Math.abs(loss - cpuLosses[i]![1]) / cpuLosses[i]![1]).toBeLessThan(1e-4);
  });

  it('resumes bitwise exactly (the step count lives on the device and in the checkpoint)', async () => {
    const dir = newDir();
    const config = writeConfig(dir, gpuConfig({ checkpoint: { every: 0, keepLast: 2 } }));
    const full = await runTiny({ configFile: config, runDir: join(dir, 'full') });
    const first = await runTiny({ configFile: config, runDir: join(dir, 'split'), stopAt: 5 });
    expect(first.summary!.reason).toBe('stopped');
    const second = await runTiny({ resume: join(dir, 'split') });
    expect(second.summary!.reason).toBe('completed');
    const resumed = [...trainLosses(first.records), ...trainLosses(second.records)];
    expect(resumed).toEqual(trainLosses(full.records));
  });

  it("trains in precision 'mixed' (f16 matmuls where the device has them, loss scaling)", async () => {
    const dir = newDir();
    const cfg = gpuConfig({ precision: 'mixed', lossScale: { initial: 1024, growthInterval: 4 } });
    const { exit, records } = await runTiny({ configFile: writeConfig(dir, cfg), runDir: join(dir, 'run') });
    expect(Exit.isSuccess(exit)).toBe(true);
    const losses = trainLosses(records).map(([, l]) => l);
    expect(losses).toHaveLength(12);
    expect(losses[11]!).toBeLessThan(losses[0]!);
    expect(records.filter((r) => r.type === 'skip')).toEqual([]);
  });

  it('resumes a mixed-precision run with its loss scale (checkpointed) and the same losses', async () => {
    const dir = newDir();
    // The scale doubles every 3 finite steps: 1024 for steps 1-3, 2048 for 4-6, 4096 for 7-9, 8192 for 10-12.
    const config = writeConfig(
      dir,
      gpuConfig({
        precision: 'mixed',
        lossScale: { initial: 1024, growthInterval: 3 },
        checkpoint: { every: 0, keepLast: 2 },
      }),
    );
    const full = await runTiny({ configFile: config, runDir: join(dir, 'full') });
    const first = await runTiny({ configFile: config, runDir: join(dir, 'split'), stopAt: 5 });
    const second = await runTiny({ resume: join(dir, 'split') });
    expect(second.summary!.reason).toBe('completed');
    const scales = (records: typeof full.records) =>
      records.flatMap((r) => (r.type === 'train' ? [[r.step, r.lossScale]] : []));
    expect(scales(full.records)).toEqual(
      Array.from({ length: 12 }, (_, i) => [i + 1, 1024 * 2 ** Math.floor(i / 3)]),
    );
    expect([...scales(first.records), ...scales(second.records)]).toEqual(scales(full.records));
    expect([...trainLosses(first.records), ...trainLosses(second.records)]).toEqual(
      trainLosses(full.records),
    );
  });

  it("rejects precision 'mixed' on the CPU with the config path", async () => {
    const dir = newDir();
    const { exit } = await runTiny({
      configFile: writeConfig(dir, tinyConfig({ precision: 'mixed' })),
      runDir: join(dir, 'run'),
    });
    expect(failureOf(exit).message).toMatch(/precision.*'mixed' runs on the WebGPU device only/s);
  });
});
