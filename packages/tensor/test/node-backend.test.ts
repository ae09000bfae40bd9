import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/index.js';
import { createBackend } from '../src/node.js';

describe('createBackend: device choice', () => {
  const saved = process.env['DYNCONV_BACKEND'];
  afterEach(() => {
    if (saved === undefined) delete process.env['DYNCONV_BACKEND'];
    else process.env['DYNCONV_BACKEND'] = saved;
  });

  it('DYNCONV_BACKEND=cpu forces the CPU reference', async () => {
    process.env['DYNCONV_BACKEND'] = 'cpu';
    const b = await createBackend();
    expect(b).toBeInstanceOf(CpuBackend);
  });

  it('the API option overrides the environment variable', async () => {
    process.env['DYNCONV_BACKEND'] = 'webgpu';
    expect(await createBackend({ prefer: 'cpu' })).toBeInstanceOf(CpuBackend);
  });

  it('auto picks WebGPU when an adapter exists (llvmpipe here)', async () => {
    delete process.env['DYNCONV_BACKEND'];
    const b = await createBackend();
    expect(b.name).toBe('webgpu');
    (b as unknown as { destroy(): void }).destroy();
  });

  it('rejects an unknown value with a clear error', async () => {
    process.env['DYNCONV_BACKEND'] = 'tpu';
    await expect(createBackend()).rejects.toThrow(/DYNCONV_BACKEND must be cpu, webgpu or auto, got 'tpu'/);
  });
});
