import { describe, expect } from 'vitest';
import { tensor, tidy } from '../src/index.js';
import type { WebGPUBackend } from '../src/webgpu/backend.js';
import { test } from './gpu-fixture.js';

describe('GpuRuntime.startProfile / stopProfile', () => {
  test('times every dispatch by pipeline key without changing results (or declines without timestamps)', async ({
    backend,
  }) => {
    const rt = (backend as WebGPUBackend).runtime;
    const hasTimestamps = rt.device.features.has('timestamp-query');
    const values = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k) / 2);
    const a = tensor(values(37 * 53, 1.3), { shape: [37, 53], backend });
    const b = tensor(values(53 * 29, 0.7), { shape: [53, 29], backend });
    const run = () =>
      tidy(() =>
        a
          .matmul(b)
          .add(1)
          .mul(a.sum().reshape([1, 1])),
      );
    const plain = run();
    const want = await plain.data();
    plain.dispose();
    const started = rt.startProfile();
    expect(started).toBe(hasTimestamps);
    if (!started) {
      // llvmpipe: no timestamp queries, nothing to time
      a.dispose();
      b.dispose();
      return;
    }
    const before = rt.stats().dispatches;
    const profiled = run();
    const got = await profiled.data();
    profiled.dispose();
    const dispatches = rt.stats().dispatches - before;
    const byKey = await rt.stopProfile();
    expect(got).toEqual(want);
    let counted = 0;
    for (const [key, t] of byKey) {
      expect(t.ms, key).toBeGreaterThanOrEqual(0);
      counted += t.dispatches;
    }
    expect(counted).toBe(dispatches);
    expect([...byKey.keys()].some((k) => k.includes('matmul'))).toBe(true);
    let error: unknown = null;
    try {
      await rt.stopProfile();
    } catch (e) {
      error = e;
    }
    expect(String(error)).toContain('not profiling');
    a.dispose();
    b.dispose();
  });
});
