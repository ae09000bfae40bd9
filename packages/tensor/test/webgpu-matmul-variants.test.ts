import { describe, expect } from 'vitest';
import type { BackendBuffer } from '../src/backend.js';
import { roundF16 } from '../src/dtype.js';
import { TensorError } from '../src/errors.js';
import type { WebGPUBackend } from '../src/webgpu/backend.js';
import { gpuBufferOf } from '../src/webgpu/buffer.js';
import { type MatmulCaps, matmulCaps } from '../src/webgpu/kernels/matmul-caps.js';
import { type MatmulProblem, matmulProblem } from '../src/webgpu/kernels/matmul-problem.js';
import { launchSgmat, type SgMatTiling, sgmatSplitKFor } from '../src/webgpu/kernels/matmul-sgmat.js';
import {
  type SgMatmulParams,
  type SgMatShape,
  sgmatInvalid,
} from '../src/webgpu/kernels/matmul-sgmat.wgsl.js';
import { wideTilesFor } from '../src/webgpu/kernels/matmul-tiled.js';
import {
  MATMUL_VARIANTS,
  type MatmulContext,
  type MatmulVariantName,
  selectMatmulVariant,
} from '../src/webgpu/kernels/matmul-variants.js';
import type { GpuRuntime } from '../src/webgpu/runtime.js';
import { expectClose, f32, randomArray, test, tracker, view } from './gpu-fixture.js';

/**
 * Every matmul variant (forced through `tuning.variant`) against a float64
 * triple loop, on every load path, f32 and f16 inputs, f16 output and the
 * reduced-precision f32 mode; plus the selection rules on fake capabilities.
 * A variant the device cannot run is skipped with its reason (llvmpipe has
 * no subgroup matrices and no f16: the H100 runs them through
 * `bench/device-tests.ts`).
 */

interface Operand {
  data: number[];
  shape: [number, number, number];
  strides: [number, number, number];
  offset: number;
}

const operand = (
  shape: [number, number, number],
  strides: [number, number, number],
  seed: number,
  offset = 0,
): Operand => {
  let last = offset;
  for (let d = 0; d < 3; d++) last += (shape[d]! - 1) * Math.abs(strides[d]!);
  return { data: f32(randomArray(last + 1, seed)), shape, strides, offset };
};

const rowMajorOperand = (shape: [number, number, number], seed: number): Operand =>
  operand(shape, [shape[1] * shape[2], shape[2], 1], seed);

const at = (x: Operand, b: number, i: number, j: number): number =>
  x.data[x.offset + b * x.strides[0] + i * x.strides[1] + j * x.strides[2]]!;

/** `round` models the input rounding of f16 storage or of the reduced-precision load. */
const reference = (a: Operand, b: Operand, round: (v: number) => number): number[] => {
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  const out: number[] = [];
  for (let z = 0; z < batch; z++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += round(at(a, z, i, q)) * round(at(b, z, q, j));
        out.push(s);
      }
  return out;
};

/** [name, a, b] over the load paths, tile edges of 64 and 128, batch broadcast and degenerate sizes. */
const cases: [string, Operand, Operand][] = [
  ['unaligned row-major', operand([1, 7, 5], [35, 5, 1], 1), operand([1, 5, 3], [15, 3, 1], 2)],
  ['aligned row-major', operand([2, 63, 36], [2268, 36, 1], 3), operand([2, 36, 68], [2448, 68, 1], 4)],
  ['both transposed', operand([2, 65, 36], [2340, 1, 68], 5), operand([2, 36, 68], [2448, 1, 36], 6)],
  [
    'strided, offset, broadcast batch',
    operand([3, 9, 10], [0, 31, 3], 7, 2),
    operand([3, 10, 6], [70, 7, 1], 8, 5),
  ],
  ['k = 1, m = 1', operand([2, 1, 1], [1, 1, 1], 9), operand([2, 1, 257], [257, 257, 1], 10)],
  ['x @ W^T across 128 tiles', rowMajorOperand([1, 200, 96], 11), operand([1, 96, 136], [0, 1, 96], 12)],
  [
    'row-major across 128 tiles, K not a multiple of 16',
    rowMajorOperand([1, 130, 72], 13),
    rowMajorOperand([1, 72, 260], 14),
  ],
];

type Mode = 'f32' | 'f16 inputs' | 'f16 output' | 'f32 reduced precision';
const MODES: readonly Mode[] = ['f32', 'f16 inputs', 'f16 output', 'f32 reduced precision'];

/** Why `variant` cannot run `mode` on this backend, or null. */
function skipReason(backend: WebGPUBackend, variant: MatmulVariantName, mode: Mode): string | null {
  if (mode !== 'f32' && mode !== 'f32 reduced precision' && !backend.supportsF16)
    return 'adapter without shader-f16';
  if (variant === 'subgroupMatrix') {
    const caps = matmulCaps(backend.runtime.device);
    if (!caps.subgroupMatrix) return `no subgroup matrices here (${caps.subgroupMatrixNote})`;
    if (mode === 'f32') return 'f32 without reducedPrecision is never rounded to f16 (by design)';
  }
  return null;
}

describe('webgpu matmul variants', () => {
  for (const variant of MATMUL_VARIANTS.map((v) => v.name))
    for (const mode of MODES)
      test.for(cases.map((c, i) => [c[0], i] as const))(
        `${variant} ${mode}: %s`,
        async ([, i], { backend, skip }) => {
          const reason = skipReason(backend, variant, mode);
          if (reason) {
            skip(reason);
            return;
          }
          const [, a, b] = cases[i]!;
          const half = mode === 'f16 inputs' || mode === 'f16 output';
          const t = tracker(backend);
          const ab = t.upload(a.data, half ? 'f16' : 'f32');
          const bb = t.upload(b.data, half ? 'f16' : 'f32');
          const [batch, m] = a.shape;
          const n = b.shape[2];
          const out = t.alloc(batch * m * n, mode === 'f16 output' ? 'f16' : 'f32');
          const saved = backend.tuning.matmul;
          backend.tuning.matmul = {
            variant,
            ...(mode === 'f32 reduced precision' ? { reducedPrecision: true } : {}),
          };
          try {
            backend.matmul(
              view(ab, a.shape, a.strides, a.offset),
              view(bb, b.shape, b.strides, b.offset),
              out,
            );
          } finally {
            backend.tuning.matmul = saved;
          }
          const rounded = half || (mode === 'f32 reduced precision' && variant === 'subgroupMatrix');
          const expected = reference(a, b, rounded ? roundF16 : (v) => v);
          // f32 accumulation everywhere; f16 output adds one f16 rounding (2^-11 relative).
          const tol =
            mode === 'f16 output'
              ? { atol: 1e-2, rtol: 2e-3 }
              : rounded
                ? { atol: 1e-3, rtol: 1e-4 }
                : { atol: 1e-4, rtol: 1e-5 };
          expectClose(await t.read(out), expected, tol);
          expect(
            backend.runtime.pipelineKeys().some((key) => key.startsWith(variantKeyPrefix[variant])),
          ).toBe(true);
          t.done();
        },
      );
});

/** `out` (read through `t`) equals `a` @ `b` in float64 to f32 accumulation tolerance. */
async function expectProduct(t: ReturnType<typeof tracker>, out: BackendBuffer, a: Operand, b: Operand) {
  expectClose(
    await t.read(out),
    reference(a, b, (v) => v),
    { atol: 1e-4, rtol: 1e-5 },
  );
}

/** f32 operands `a` @ `b` uploaded through `t`, and kernel parameters with emulated builtins. */
function emulatedProblem(
  t: ReturnType<typeof tracker>,
  a: Operand,
  b: Operand,
  shape: SgMatShape,
  tiling: SgMatTiling,
): { p: MatmulProblem; out: BackendBuffer; params: SgMatmulParams } {
  const ab = t.upload(a.data);
  const bb = t.upload(b.data);
  const n = b.shape[2];
  const out = t.alloc(a.shape[0] * a.shape[1] * n);
  const p = matmulProblem(
    { buffer: gpuBufferOf(ab), dtype: 'f32', shape: a.shape, strides: a.strides, offset: a.offset },
    { buffer: gpuBufferOf(bb), dtype: 'f32', shape: b.shape, strides: b.strides, offset: b.offset },
    gpuBufferOf(out),
    'f32',
  );
  const params: SgMatmulParams = {
    aDtype: 'f32',
    bDtype: 'f32',
    outDtype: 'f32',
    aLoad: p.aLoad,
    bLoad: p.bLoad,
    shape,
    ...tiling,
    directStore: n % 4 === 0,
    syntax: { builtins: 'template', diagnostic: 'chromium' },
    emulate: true,
  };
  return { p, out, params };
}

/**
 * The subgroup-matrix kernel's own indexing (staging per load path, shared
 * layouts, matrix offsets and majorness, direct and scratch epilogues, double
 * buffering) with the builtins replaced by scalar stand-ins: runs on every
 * adapter; the real builtins are checked above where the device has them.
 */
describe('subgroup-matrix kernel indexing (emulated builtins)', () => {
  // Small tilings (llvmpipe compiles the scalar stand-ins slowly); every case runs on two of them,
  // so each load path meets both a layout-preserving and a transposing shared layout.
  const tilings: [string, SgMatTiling, SgMatShape][] = [
    [
      '64x32, 2x2 subgroups, double-buffered, A natural, B kn',
      { sgM: 2, sgN: 2, tilesM: 2, tilesN: 1, bk: 16, doubleBuffer: true },
      { m: 16, n: 16, k: 16 },
    ],
    [
      '64x64, 2x4 subgroups, 16x8x16, A mk, B nk',
      { sgM: 2, sgN: 4, tilesM: 2, tilesN: 2, bk: 16, doubleBuffer: false, aLayout: 'mk', bLayout: 'nk' },
      { m: 16, n: 8, k: 16 },
    ],
    [
      '32x32, 1x2 subgroups, 16x16x8, A km, B natural',
      { sgM: 1, sgN: 2, tilesM: 2, tilesN: 1, bk: 16, doubleBuffer: true, aLayout: 'km', bLayout: 'natural' },
      { m: 16, n: 16, k: 8 },
    ],
    [
      '64x32, 2x2 subgroups, A mk, B kn',
      { sgM: 2, sgN: 2, tilesM: 2, tilesN: 1, bk: 32, doubleBuffer: false, aLayout: 'mk', bLayout: 'kn' },
      { m: 16, n: 16, k: 16 },
    ],
  ];
  const runs = cases.flatMap((c, i) =>
    [i % tilings.length, (i + 2) % tilings.length].map((j) => [c[0], tilings[j]![0], i, j] as const),
  );
  test.for(runs)('%s on %s', async ([, , i, j], { backend }) => {
    const [, tiling, shape] = tilings[j]!;
    const [, a, b] = cases[i]!;
    const t = tracker(backend);
    const { p, out, params } = emulatedProblem(t, a, b, shape, tiling);
    launchSgmat(backend.runtime, p, params);
    await expectProduct(t, out, a, b);
    t.done();
  });
});

/**
 * Split-K on the subgroup-matrix kernel (the weight-gradient shapes dW = dYᵀ X):
 * K ranges per workgroup z into f32 partials, summed in split order. Emulated
 * builtins, K not a multiple of the split or of bk, edge tiles in M and N.
 */
describe('subgroup-matrix split-K (emulated builtins)', () => {
  const a = operand([1, 40, 300], [0, 1, 40], 61); // Aᵀ: dY stored [K, M]
  const b = rowMajorOperand([1, 300, 36], 62);
  test.for([2, 3, 5] as const)('A^T @ B, K 300 in %i splits', async (splits, { backend }) => {
    const t = tracker(backend);
    const tiling = { sgM: 2, sgN: 2, tilesM: 1, tilesN: 1, bk: 32, doubleBuffer: false };
    const { p, out, params } = emulatedProblem(t, a, b, { m: 16, n: 16, k: 16 }, tiling);
    launchSgmat(backend.runtime, p, { ...params, splitK: true }, splits);
    const keys = backend.runtime.pipelineKeys();
    expect(keys.some((key) => key.startsWith('matmul.sgmat|') && key.includes('|splitk|'))).toBe(true);
    expect(keys.some((key) => key.startsWith('matmul.splitk-reduce|'))).toBe(true);
    await expectProduct(t, out, a, b);
    t.done();
  });

  test.for([
    [8, 'padded from 10 to 16'],
    [1, 'not padded'],
  ] as const)('A^T @ B, K 300 unsplit, the K-tile count %i-aligned (%s)', async ([padTiles], { backend }) => {
    const t = tracker(backend);
    const tiling = { sgM: 2, sgN: 2, tilesM: 1, tilesN: 1, bk: 32, doubleBuffer: false, padTiles };
    const { p, out, params } = emulatedProblem(t, a, b, { m: 16, n: 16, k: 16 }, tiling);
    launchSgmat(backend.runtime, p, params);
    await expectProduct(t, out, a, b);
    t.done();
  });

  test('a K-tile alignment that is not a positive integer is refused', ({ backend }) => {
    const t = tracker(backend);
    const tiling = { sgM: 2, sgN: 2, tilesM: 1, tilesN: 1, bk: 32, doubleBuffer: false };
    const { params } = emulatedProblem(t, a, b, { m: 16, n: 16, k: 16 }, tiling);
    for (const padTiles of [0, 2.5]) expect(sgmatInvalid({ ...params, padTiles })).toContain('padTiles');
    expect(sgmatInvalid({ ...params, padTiles: 4 })).toBeNull();
    t.done();
  });

  test('is chosen for long-K shapes with few big tiles, not for the others', () => {
    expect(sgmatSplitKFor({ batch: 1, m: 2304, n: 768, k: 8192 })).toBe(4);
    expect(sgmatSplitKFor({ batch: 1, m: 768, n: 768, k: 8192 })).toBe(8);
    expect(sgmatSplitKFor({ batch: 1, m: 8192, n: 768, k: 2304 })).toBe(1); // enough tiles
    expect(sgmatSplitKFor({ batch: 1, m: 8192, n: 768, k: 50304 })).toBe(2); // a ragged last wave, long K
    expect(sgmatSplitKFor({ batch: 1, m: 8192, n: 2048, k: 50304 })).toBe(1); // full waves
    expect(sgmatSplitKFor({ batch: 2, m: 768, n: 768, k: 8192 })).toBe(1);
    expect(sgmatSplitKFor({ batch: 1, m: 768, n: 768, k: 1500 })).toBe(1); // splits under 1024 deep
  });

  test('128 x 256 SIMT tiles are taken only where they make full waves', () => {
    expect(wideTilesFor({ batch: 1, m: 4096, n: 4096 })).toBe(true);
    expect(wideTilesFor({ batch: 1, m: 8192, n: 2048 })).toBe(true);
    expect(wideTilesFor({ batch: 1, m: 8192, n: 2304 })).toBe(false); // ragged last wave
    expect(wideTilesFor({ batch: 1, m: 8192, n: 768 })).toBe(false); // under two waves
    expect(wideTilesFor({ batch: 8, m: 2048, n: 768 })).toBe(true); // 8 K splits count as batches
  });
});

describe('subgroup-matrix 8-wide staging loads (real builtins)', () => {
  // 8-aligned operands (f16 travels as 16-byte loads): row-major, x @ W^T and A^T, across tile edges.
  const aligned: [string, Operand, Operand][] = [
    ['row-major', rowMajorOperand([2, 72, 40], 41), rowMajorOperand([2, 40, 136], 42)],
    ['x @ W^T', rowMajorOperand([1, 200, 96], 43), operand([1, 96, 136], [0, 1, 96], 44)],
    ['A^T @ B', operand([1, 136, 40], [0, 1, 136], 45), rowMajorOperand([1, 40, 72], 46)],
  ];
  const modes = ['f16 inputs', 'f32 reduced precision'] as const;
  test.for(modes.flatMap((mode) => aligned.map((c, i) => [mode, c[0], i] as const)))(
    '%s: %s',
    async ([mode, , i], { backend, skip }) => {
      const reason = skipReason(backend, 'subgroupMatrix', mode);
      if (reason) {
        skip(reason);
        return;
      }
      const [, a, b] = aligned[i]!;
      const half = mode === 'f16 inputs';
      const t = tracker(backend);
      const ab = t.upload(a.data, half ? 'f16' : 'f32');
      const bb = t.upload(b.data, half ? 'f16' : 'f32');
      const out = t.alloc(a.shape[0] * a.shape[1] * b.shape[2]);
      const saved = backend.tuning.matmul;
      backend.tuning.matmul = {
        variant: 'subgroupMatrix',
        sgmat: { vec: 8 },
        ...(half ? {} : { reducedPrecision: true }),
      };
      try {
        backend.matmul(view(ab, a.shape, a.strides, a.offset), view(bb, b.shape, b.strides, b.offset), out);
      } finally {
        backend.tuning.matmul = saved;
      }
      expectClose(await t.read(out), reference(a, b, roundF16), { atol: 1e-3, rtol: 1e-4 });
      expect(
        backend.runtime.pipelineKeys().some((key) => key.startsWith('matmul.sgmat|') && key.includes('|v8|')),
      ).toBe(true);
      t.done();
    },
  );
});

describe('subgroup-matrix 8-wide staging loads (emulated builtins)', () => {
  // Each lane stages 8 consecutive elements (two vec4 loads of f32 here; one 16-byte load of f16 on devices with f16).
  const tilings: [string, SgMatTiling][] = [
    [
      '64x32, bk 32, A natural, B kn',
      { sgM: 2, sgN: 2, tilesM: 2, tilesN: 1, bk: 32, doubleBuffer: false, vec: 8 },
    ],
    [
      '64x64, bk 16, A mk, B natural, double-buffered',
      {
        sgM: 2,
        sgN: 2,
        tilesM: 2,
        tilesN: 2,
        bk: 16,
        doubleBuffer: true,
        aLayout: 'mk',
        bLayout: 'natural',
        vec: 8,
      },
    ],
  ];
  const picked = ['aligned row-major', 'both transposed', 'x @ W^T across 128 tiles'];
  const runs = cases
    .map((c, i) => [c[0], i] as const)
    .filter(([name]) => picked.includes(name))
    .flatMap(([name, i]) => tilings.map((tl, j) => [name, tl[0], i, j] as const));
  test.for(runs)('%s on %s', async ([, , i, j], { backend }) => {
    const [, tiling] = tilings[j]!;
    const [, a, b] = cases[i]!;
    const t = tracker(backend);
    const { p, out, params } = emulatedProblem(t, a, b, { m: 16, n: 16, k: 16 }, tiling);
    launchSgmat(backend.runtime, p, params);
    await expectProduct(t, out, a, b);
    expect(backend.runtime.pipelineKeys().some((key) => key.includes('|v8|'))).toBe(true);
    t.done();
  });
});

describe('subgroup-matrix direct global loads (emulated builtins)', () => {
  test.for([
    ['x @ W^T', false, true],
    ['A^T @ B', true, false],
  ] as const)('%s on full 32 x 32 tiles', async ([, aT, bT], { backend }) => {
    const [m, n, k] = [64, 96, 48];
    const a = aT ? operand([1, m, k], [0, 1, m], 31) : rowMajorOperand([1, m, k], 31);
    const b = bT ? operand([1, k, n], [0, 1, k], 32) : rowMajorOperand([1, k, n], 32);
    const t = tracker(backend);
    const tiling = { sgM: 1, sgN: 2, tilesM: 2, tilesN: 1, bk: 16, doubleBuffer: false, direct: true };
    const { p, out, params } = emulatedProblem(t, a, b, { m: 16, n: 16, k: 16 }, tiling);
    launchSgmat(backend.runtime, p, params);
    await expectProduct(t, out, a, b);
    t.done();
  });
});

describe('register-tiled double buffering', () => {
  test.for([4, 8] as const)('tm %i across tile edges matches the reference', async (tm, { backend }) => {
    const t = tracker(backend);
    const a = rowMajorOperand([2, 130, 44], 21);
    const b = operand([2, 44, 132], [0, 1, 44], 22);
    const ab = t.upload(a.data);
    const bb = t.upload(b.data);
    const out = t.alloc(2 * 130 * 132);
    const saved = backend.tuning.matmul;
    backend.tuning.matmul = { variant: 'registerTiled', tm, doubleBuffer: true };
    try {
      backend.matmul(view(ab, a.shape, a.strides), view(bb, b.shape, b.strides), out);
    } finally {
      backend.tuning.matmul = saved;
    }
    await expectProduct(t, out, a, b);
    expect(
      backend.runtime.pipelineKeys().some((key) => key.startsWith(`matmul|`) && key.includes('|db')),
    ).toBe(true);
    t.done();
  });
});

describe('register-tiled rectangular tiles and split-K', () => {
  // [name, tuning, key fragment]: 128 x 64 and 64 x 128 tiles; K split in 2 and 3 ranges (K not a multiple of bk).
  test.for([
    ['tm 8, tn 4 (128 x 64 tiles)', { tm: 8, tn: 4 }, '|tn4'],
    ['tm 4, tn 8 (64 x 128 tiles)', { tm: 4, tn: 8 }, '|tn8'],
    ['tm 8, tn 16 (128 x 256 tiles)', { tm: 8, tn: 16 }, '|tn16'],
    // 48 KiB of workgroup memory: llvmpipe (32 KiB) runs it at bk 16.
    ['tm 8, tn 16, bk 32, pad 0', { tm: 8, tn: 16, bk: 32, pad: 0 }, '|pad0|'],
    ['tm 16, tn 8 (256 x 128 tiles), bk 16', { tm: 16, tn: 8, bk: 16 }, '|tm16|bk16|'],
    ['split-K 2', { tm: 8, splitK: 2 }, '|splitk'],
    ['split-K 3, 128 x 64 tiles', { tm: 8, tn: 4, splitK: 3 }, '|splitk'],
  ] as const)('%s across tile edges matches the reference', async ([, tuning, key], { backend }) => {
    const t = tracker(backend);
    // x @ W^T (vec4 along K for both) with M, N past one tile and an odd K.
    const a = rowMajorOperand([1, 130, 92], 23);
    const b = operand([1, 92, 132], [0, 1, 92], 24);
    const ab = t.upload(a.data);
    const bb = t.upload(b.data);
    const out = t.alloc(130 * 132);
    const saved = backend.tuning.matmul;
    backend.tuning.matmul = { variant: 'registerTiled', ...tuning };
    try {
      backend.matmul(view(ab, a.shape, a.strides), view(bb, b.shape, b.strides), out);
    } finally {
      backend.tuning.matmul = saved;
    }
    await expectProduct(t, out, a, b);
    expect(backend.runtime.pipelineKeys().some((k) => k.startsWith('matmul|') && k.includes(key))).toBe(true);
    t.done();
  });
  test('split-K with scalar loads and an output width not a multiple of 4', async ({ backend }) => {
    const t = tracker(backend);
    const a = operand([1, 37, 301], [0, 1, 37], 25);
    const b = rowMajorOperand([1, 301, 33], 26);
    const ab = t.upload(a.data);
    const bb = t.upload(b.data);
    const out = t.alloc(37 * 33);
    const saved = backend.tuning.matmul;
    backend.tuning.matmul = { variant: 'registerTiled', tm: 4, splitK: 4 };
    try {
      backend.matmul(view(ab, a.shape, a.strides), view(bb, b.shape, b.strides), out);
    } finally {
      backend.tuning.matmul = saved;
    }
    await expectProduct(t, out, a, b);
    expect(backend.runtime.pipelineKeys().some((k) => k.startsWith('matmul.splitk-reduce|f32|s'))).toBe(true);
    t.done();
  });
});

const variantKeyPrefix: Record<MatmulVariantName, string> = {
  subgroupMatrix: 'matmul.sgmat|',
  registerTiled: 'matmul|',
  naive: 'matmul.naive|',
};

// ----------------------------------------------------------- selection rules

const fakeBuffer = {} as GPUBuffer;
const problem = (
  m: number,
  n: number,
  k: number,
  dtype: 'f32' | 'f16',
  outDtype: 'f32' | 'f16' = 'f32',
): MatmulProblem =>
  matmulProblem(
    { buffer: fakeBuffer, dtype, shape: [1, m, k], strides: [0, k, 1], offset: 0 },
    { buffer: fakeBuffer, dtype, shape: [1, k, n], strides: [0, n, 1], offset: 0 },
    fakeBuffer,
    outDtype,
  );
const sgCaps: MatmulCaps = {
  shaderF16: true,
  subgroupMatrix: {
    shape: { m: 16, n: 16, k: 16 },
    syntax: { builtins: 'template', diagnostic: 'chromium' },
    configs: [],
  },
  subgroupMatrixNote: 'fake',
};
const noCaps: MatmulCaps = { shaderF16: true, subgroupMatrix: null, subgroupMatrixNote: 'fake: none' };
const rt = { maxWorkgroupStorageBytes: 32768 } as GpuRuntime;
const ctx = (caps: MatmulCaps, tuning: MatmulContext['tuning'] = {}): MatmulContext => ({ rt, caps, tuning });
const pick = (p: MatmulProblem, c: MatmulContext): string => selectMatmulVariant(p, c).name;

describe('matmul variant selection', () => {
  test('f32 stays on the exact f32 kernel even with subgroup matrices', () => {
    expect(pick(problem(1024, 1024, 1024, 'f32'), ctx(sgCaps))).toBe('registerTiled');
  });
  test('reduced precision sends large f32 matmuls to tensor cores', () => {
    expect(pick(problem(1024, 1024, 1024, 'f32'), ctx(sgCaps, { reducedPrecision: true }))).toBe(
      'subgroupMatrix',
    );
  });
  test('f16 inputs use subgroup matrices when large, the SIMT kernel when small or unavailable', () => {
    expect(pick(problem(1024, 768, 768, 'f16'), ctx(sgCaps))).toBe('subgroupMatrix');
    expect(pick(problem(1024, 768, 768, 'f16', 'f16'), ctx(sgCaps))).toBe('subgroupMatrix');
    expect(pick(problem(8, 768, 768, 'f16'), ctx(sgCaps))).toBe('registerTiled');
    expect(pick(problem(32, 32, 32, 'f16'), ctx(sgCaps))).toBe('registerTiled');
    expect(pick(problem(1024, 768, 768, 'f16'), ctx(noCaps))).toBe('registerTiled');
  });
  test('a forced variant runs or says why not', () => {
    expect(pick(problem(64, 64, 64, 'f32'), ctx(noCaps, { variant: 'naive' }))).toBe('naive');
    expect(() => pick(problem(64, 64, 64, 'f16'), ctx(noCaps, { variant: 'subgroupMatrix' }))).toThrow(
      TensorError,
    );
    expect(() => pick(problem(64, 64, 64, 'f32'), ctx(sgCaps, { variant: 'subgroupMatrix' }))).toThrow(
      TensorError,
    );
    expect(() =>
      pick(problem(64, 64, 64, 'f32'), ctx(sgCaps, { variant: 'bogus' as MatmulVariantName })),
    ).toThrow(TensorError);
  });
  test('DYNCONV_MATMUL forces a variant when the tuning does not', () => {
    const saved = process.env.DYNCONV_MATMUL;
    process.env.DYNCONV_MATMUL = 'naive';
    try {
      expect(pick(problem(256, 256, 256, 'f32'), ctx(sgCaps))).toBe('naive');
      expect(pick(problem(256, 256, 256, 'f32'), ctx(sgCaps, { variant: 'registerTiled' }))).toBe(
        'registerTiled',
      );
    } finally {
      if (saved === undefined) delete process.env.DYNCONV_MATMUL;
      else process.env.DYNCONV_MATMUL = saved;
    }
  });
  test('variants are listed by priority', () => {
    const priorities = MATMUL_VARIANTS.map((v) => v.priority);
    expect(priorities).toEqual([...priorities].sort((x, y) => x - y));
  });
});
