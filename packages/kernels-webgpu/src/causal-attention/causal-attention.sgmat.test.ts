import type { SgMatShape } from '@dynconv/tensor';
import { checkOp, type InputSpec, testRng } from '@dynconv/tensor/testing';
import { expect, test } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { docStartSpec, docStartValues, maxAbsDiff } from '../../test/helpers.js';
import {
  type AttentionDims,
  deviceForward,
  forwardBounds,
  halfInputs,
  halfSpec,
  S8,
  S16,
  withAttentionTuning,
} from '../../test/sgmat-attention.js';
import { runtimeOf } from '../common/gpu.js';
import { attentionPlan } from './causal-attention.fused.js';
import { causalAttention } from './causal-attention.js';
import { causalAttentionForward64 } from './causal-attention.ref.js';
import { type SgmatAttentionLaunch, sgmatAttentionForwardWgsl } from './causal-attention.sgmat.wgsl.js';
import { sgmatQueryGradWgsl } from './causal-attention.sgmat-dq.wgsl.js';
import { misalignedWorkgroupVars } from './causal-attention.sgmat-ops.js';
import { SGMAT_DQ_LAUNCHES, SGMAT_LAUNCHES } from './causal-attention.sgmat-plan.js';

/**
 * The reduced-precision (subgroup-matrix) forward, run with emulated builtins
 * (llvmpipe has neither subgroup matrices nor f16): inputs are f16-representable,
 * so the kernel's f16 rounding of q, k, v is exact and the float64 reference
 * sees the same values; what remains is P rounded to f16 and f32 sums.
 */

const launch = (
  subgroups: number,
  sgRows: 16 | 32,
  bk: number,
  kTransposed = true,
): SgmatAttentionLaunch => ({
  subgroups,
  sgRows,
  bk,
  kTransposed,
});

/** Runs `body` with the emulated sgmat forward forced for this matrix shape, launch and tau. */
const withEmulation = <T>(
  shape: SgMatShape,
  l: SgmatAttentionLaunch,
  tau: number | undefined,
  body: () => Promise<T>,
): Promise<T> => withAttentionTuning({ sgmatEmulate: shape, sgmatLaunch: l, sgmatTau: tau }, body);

interface ForwardCase extends AttentionDims {
  name: string;
  shape: SgMatShape;
  launch: SgmatAttentionLaunch;
  tau?: number;
  scale?: number;
  docs?: readonly (readonly number[])[];
  /** Assert that some row's max rises past tau after its first tile (the lazy rescale runs). */
  expectRescales?: boolean;
}

/** How often (rows × key tiles) the kernel's lazy max would rise by more than tau after a row's first visible tile. */
function lazyRescales(
  q: readonly number[],
  k: readonly number[],
  c: ForwardCase,
  scale: number,
  starts: readonly number[] | undefined,
): number {
  const tau = c.tau ?? 8;
  let count = 0;
  for (let b = 0; b < c.B; b++)
    for (let h = 0; h < c.H; h++)
      for (let i = 0; i < c.Tq; i++) {
        const kvh = b * c.Hkv + Math.floor(h / (c.H / c.Hkv));
        const first = starts?.[b * c.Tq + i] ?? 0;
        const last = c.Tk - c.Tq + i;
        let m = Number.NEGATIVE_INFINITY;
        for (let k0 = 0; k0 <= last; k0 += c.launch.bk) {
          let tileMax = Number.NEGATIVE_INFINITY;
          for (let j = Math.max(k0, first); j <= Math.min(last, k0 + c.launch.bk - 1); j++) {
            let dot = 0;
            for (let d = 0; d < c.dh; d++)
              dot += q[((b * c.H + h) * c.Tq + i) * c.dh + d]! * k[(kvh * c.Tk + j) * c.dh + d]!;
            tileMax = Math.max(tileMax, dot * scale);
          }
          if (tileMax > m + tau) {
            if (m > Number.NEGATIVE_INFINITY) count++;
            m = tileMax;
          }
        }
      }
  return count;
}

const forwardCases: ForwardCase[] = [
  {
    name: 'T=100 dh=64 GQA 4/2',
    B: 2,
    H: 4,
    Hkv: 2,
    Tq: 100,
    Tk: 100,
    dh: 64,
    shape: S16,
    launch: launch(2, 16, 16),
  },
  {
    name: 'T=33 dh=32 docStart, 16x8x8, 32-key tiles',
    ...{ B: 2, H: 2, Hkv: 2, Tq: 33, Tk: 33, dh: 32, shape: S8, launch: launch(2, 16, 32) },
    docs: [[1, 2, 20], []],
  },
  {
    name: 'T=7 dh=64 one lane per row, K column-major',
    ...{ B: 1, H: 3, Hkv: 1, Tq: 7, Tk: 7, dh: 64, shape: S16, launch: launch(1, 32, 16, false) },
  },
  { name: 'T=1 dh=32', B: 1, H: 1, Hkv: 1, Tq: 1, Tk: 1, dh: 32, shape: S16, launch: launch(2, 16, 32) },
  {
    name: 'T=33 dh=12 (padded head dim, scalar loads) kvOffset Tq=33 Tk=50',
    ...{ B: 1, H: 2, Hkv: 1, Tq: 33, Tk: 50, dh: 12, shape: S8, launch: launch(2, 16, 16) },
  },
  {
    name: 'T=100 dh=32 tau=0 (rescale whenever a max rises)',
    ...{ B: 1, H: 2, Hkv: 2, Tq: 100, Tk: 100, dh: 32, shape: S16, launch: launch(2, 16, 16), tau: 0 },
    expectRescales: true,
  },
  {
    name: 'T=100 dh=32 wide logits (maxima rise past tau, lazy rescales)',
    ...{ B: 1, H: 2, Hkv: 1, Tq: 100, Tk: 100, dh: 32, shape: S16, launch: launch(2, 32, 16), scale: 1.5 },
    docs: [[30, 64]],
    expectRescales: true,
  },
];

gpuTest.for(forwardCases)(
  'emulated sgmat forward: o and logsumexp match the float64 reference on f16 inputs: $name',
  async (c, { backend }) => {
    const rt = runtimeOf(backend)!;
    const x = halfInputs(c, 1, c.docs ? docStartValues(c.B, c.Tq, c.docs) : undefined, c.scale);
    const ref = causalAttentionForward64(x.q, x.k, x.v, c, x.opts);
    const got = await withEmulation(c.shape, c.launch, c.tau, async () => {
      const plan = attentionPlan(rt, { dtype: 'f32', dh: c.dh, docs: x.starts !== undefined })!;
      expect(plan.fwd.key).toMatch(/^causalAttention\.fwd\|sgmat\|.*\|emulated$/);
      return deviceForward(backend, plan, c, x);
    });
    const bounds = forwardBounds(x.v, ref.lse);
    expect(maxAbsDiff(got.o, ref.o), 'max |o - ref|').toBeLessThan(bounds.o);
    expect(maxAbsDiff(got.lse, ref.lse), 'max |lse - ref|').toBeLessThan(bounds.lse);
    if (c.expectRescales) expect(lazyRescales(x.q, x.k, c, x.opts.scale, x.starts)).toBeGreaterThan(0);
  },
);

gpuTest(
  'the emulation rounds q, k, v to f16 (it differs from the reference on unrounded inputs)',
  async ({ backend }) => {
    const rt = runtimeOf(backend)!;
    const [B, H, T, dh] = [1, 2, 40, 64];
    const rng = testRng(5);
    const raw = (n: number) => Array.from({ length: n }, () => rng.normal());
    const [qv, kv, vv] = [raw(B * H * T * dh), raw(B * H * T * dh), raw(B * H * T * dh)];
    const scale = 1 / Math.sqrt(dh);
    const dims = { B, H, Hkv: H, Tq: T, Tk: T, dh };
    const ref = causalAttentionForward64(qv, kv, vv, dims, { scale, kvOffset: 0 });
    const lse = await withEmulation(S16, launch(2, 16, 16), undefined, async () => {
      const plan = attentionPlan(rt, { dtype: 'f32', dh, docs: false })!;
      const x = { q: qv, k: kv, v: vv, starts: undefined, opts: { scale, kvOffset: 0, docStart: undefined } };
      return (await deviceForward(backend, plan, dims, x)).lse;
    });
    const err = maxAbsDiff(lse, ref.lse);
    // Unrounded inputs: q·k carries f16 input rounding (~1e-3 relative), far above the f32-only 2e-5 bound above.
    expect(err).toBeGreaterThan(1e-4);
  },
);

const gradCases: { name: string; specs: InputSpec[]; shape: SgMatShape; launch: SgmatAttentionLaunch }[] = [
  {
    name: 'GQA 4/2 T=33 dh=32 docStart',
    specs: [
      halfSpec(1, 1, 4, 33, 32),
      halfSpec(2, 1, 2, 33, 32),
      halfSpec(3, 1, 2, 33, 32),
      docStartSpec(1, 33, [[3, 20]]),
    ],
    shape: S8,
    launch: launch(2, 16, 32),
  },
  {
    name: 'T=70 dh=64',
    specs: [halfSpec(4, 2, 2, 70, 64), halfSpec(5, 2, 2, 70, 64), halfSpec(6, 2, 2, 70, 64)],
    shape: S16,
    launch: launch(2, 16, 16),
  },
];

gpuTest.for(gradCases)(
  'emulated sgmat forward + the f32 backward: forward and every gradient match the float64 reference: $name',
  async (c, { backend }) => {
    await withEmulation(c.shape, c.launch, undefined, () =>
      checkOp(
        `causalAttention sgmat ${c.name}`,
        c.specs,
        ([q, k, v, d]) => causalAttention(q!, k!, v!, d ? { docStart: d } : {}),
        // The backward is f32, but from an o whose P went through f16.
        { backend, fd: false, atol: 1e-3, rtol: 1e-3 },
      ),
    );
  },
);

gpuTest(
  'selection: the sgmat forward only with reduced precision and subgroup matrices',
  async ({ backend }) => {
    const rt = runtimeOf(backend)!;
    const hasSgmat = rt.device.features.has('chromium-experimental-subgroup-matrix');
    const fwdKey = (reducedPrecision: boolean) =>
      attentionPlan(rt, { dtype: 'f32', dh: 64, docs: false, reducedPrecision })!.fwd.key;
    expect(fwdKey(false)).toMatch(/^causalAttention\.fwd\|f32\|/);
    if (!hasSgmat) expect(fwdKey(true)).toMatch(/^causalAttention\.fwd\|f32\|/);
    await withAttentionTuning({ reducedPrecision: false }, async () =>
      expect(fwdKey(true)).toMatch(/^causalAttention\.fwd\|f32\|/),
    );
    // The SwiftShader path wins over reduced precision.
    await withAttentionTuning({ reducedPrecision: true, rowwise: true }, async () =>
      expect(fwdKey(true)).not.toMatch(/sgmat/),
    );
  },
);

test('workgroup layout: every workgroup variable of the real (builtin) kernels is a multiple of 16 bytes', () => {
  // Cooperative-matrix pointers must be 16-byte aligned; the emulation cannot catch a variable that shifts
  // the others (a 4-byte flag did on the H100). The generators also refuse such code; this walks all launches.
  expect(misalignedWorkgroupVars('var<workgroup> flag: u32;\nvar<workgroup> t: array<f16, 8>;')).toEqual([
    'flag: 4',
  ]);
  const syntax = { builtins: 'template', diagnostic: 'chromium' } as const;
  for (const shape of [S16, S8])
    for (const dh of [12, 32, 64, 100, 128])
      for (const dtype of ['f32', 'f16'] as const)
        for (const docs of [false, true]) {
          const base = { dtype, dh, docs, shape, syntax, emulate: false, heavyFirst: true };
          for (const l of SGMAT_LAUNCHES) {
            const code = sgmatAttentionForwardWgsl({ ...base, ...l, tau: 8 });
            expect(misalignedWorkgroupVars(code), `forward ${JSON.stringify(l)} dh=${dh}`).toEqual([]);
            expect(code).toMatch(/var<workgroup> \w+: array<f16, \d+>;/);
          }
          for (const l of SGMAT_DQ_LAUNCHES) {
            const code = sgmatQueryGradWgsl({ ...base, ...l });
            expect(misalignedWorkgroupVars(code), `dq ${JSON.stringify(l)} dh=${dh}`).toEqual([]);
          }
        }
});
