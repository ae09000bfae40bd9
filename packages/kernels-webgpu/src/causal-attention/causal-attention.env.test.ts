import { afterEach, expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { runtimeOf } from '../common/gpu.js';
import { attentionPlan, attentionTuning } from './causal-attention.fused.js';

const base = { dtype: 'f32', dh: 64, docs: false } as const;
const saved = process.env.DYNCONV_ATTENTION;
afterEach(() => {
  if (saved === undefined) delete process.env.DYNCONV_ATTENTION;
  else process.env.DYNCONV_ATTENTION = saved;
  attentionTuning.sgmatEmulate = undefined;
});

gpuTest('DYNCONV_ATTENTION forces the kernel family, and names the allowed ones', async ({ backend }) => {
  const rt = runtimeOf(backend)!;
  // Emulated subgroup matrices: the tensor-core forward is available on this adapter too.
  attentionTuning.sgmatEmulate = { m: 16, n: 16, k: 16 };
  const fwdKey = (family: string) => {
    process.env.DYNCONV_ATTENTION = family;
    return attentionPlan(rt, { ...base, reducedPrecision: true })!.fwd.key;
  };
  expect(fwdKey('sgmat')).toMatch(/^causalAttention\.fwd\|sgmat\|/);
  expect(fwdKey('tiled')).toMatch(/^causalAttention\.fwd\|f32\|dh=64\|docs=0\|ty=/);
  expect(fwdKey('rowwise')).toMatch(/^causalAttention\.fwd\|.*rowwise|^causalAttention\.rowwise/);
  process.env.DYNCONV_ATTENTION = 'flash';
  expect(() => attentionPlan(rt, base)).toThrow(
    /DYNCONV_ATTENTION must be one of rowwise, tiled, sgmat, got 'flash'/,
  );
});
