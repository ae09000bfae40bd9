import { f32ToF16Bits } from '../../dtype.js';
import { matmulUniforms } from './matmul.wgsl.js';
import { type SgMatmulParams, type SgMatShape, type SgMatSyntax, sgmatWgsl } from './matmul-sgmat.wgsl.js';

/** Dawn's feature name for subgroup matrices (tensor cores from WGSL). */
export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';

/** One `GPUSubgroupMatrixConfig` of the adapter, copied into a plain object. */
export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** What the device offers the matmul variants (see `matmul-variants.ts`). */
export interface MatmulCaps {
  readonly shaderF16: boolean;
  /** The f16 x f16 -> f32 subgroup-matrix path, or null (see `subgroupMatrixNote`). */
  readonly subgroupMatrix: {
    /** The config the kernel uses (largest f16 -> f32 one). */
    readonly shape: SgMatShape;
    readonly syntax: SgMatSyntax;
    readonly configs: readonly SubgroupMatrixConfig[];
  } | null;
  /** Why there is no subgroup-matrix path, or how it was verified. */
  readonly subgroupMatrixNote: string;
}

const registered = new WeakMap<GPUDevice, MatmulCaps>();

/** Records the probed capabilities of `device` (done by `requestNodeGpuDevice`). */
export const registerMatmulCaps = (device: GPUDevice, caps: MatmulCaps): void =>
  void registered.set(device, caps);

interface LooseAdapterInfo {
  readonly subgroupMinSize?: number;
  readonly subgroupMaxSize?: number;
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

/** Copies the adapter's configs (interface objects: JSON.stringify gives `{}`). */
export const subgroupMatrixConfigs = (info: unknown): SubgroupMatrixConfig[] =>
  Array.from((info as LooseAdapterInfo | undefined)?.subgroupMatrixConfigs ?? [], (c) => ({
    componentType: c.componentType,
    resultComponentType: c.resultComponentType,
    M: c.M,
    N: c.N,
    K: c.K,
  }));

/** The kernel's shape: f16 inputs, f32 results, M = 16 and the largest N and K (NVIDIA: 16 x 16 x 16). */
const pickShape = (configs: readonly SubgroupMatrixConfig[]): SgMatShape | null => {
  const usable = configs
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .filter((c) => c.M === 16 && (c.N === 8 || c.N === 16) && (c.K === 8 || c.K === 16))
    .sort((x, y) => y.N * y.K - x.N * x.K);
  const c = usable[0];
  return c ? { m: c.M, n: c.N, k: c.K } : null;
};

/** Capabilities without a probe: what the features and adapter info say (browsers, or before probing). */
function unprobed(device: GPUDevice): MatmulCaps {
  const shaderF16 = device.features.has('shader-f16');
  if (!device.features.has(SUBGROUP_MATRIX_FEATURE))
    return { shaderF16, subgroupMatrix: null, subgroupMatrixNote: `device lacks ${SUBGROUP_MATRIX_FEATURE}` };
  const info = (device as unknown as { adapterInfo?: LooseAdapterInfo }).adapterInfo;
  const configs = subgroupMatrixConfigs(info);
  const shape = pickShape(configs);
  const sizeNote = subgroupSizeProblem(info);
  if (!shaderF16 || !shape || sizeNote)
    return {
      shaderF16,
      subgroupMatrix: null,
      subgroupMatrixNote: sizeNote ?? (shaderF16 ? 'no f16 -> f32 config with M = 16' : 'needs shader-f16'),
    };
  return {
    shaderF16,
    subgroupMatrix: { shape, syntax: { builtins: 'template', diagnostic: 'chromium' }, configs },
    subgroupMatrixNote: 'not probed (assumed current builtin spelling)',
  };
}

/** The kernel maps subgroup s to lanes 32 s .. 32 s + 31: it needs fixed 32-lane subgroups. */
const subgroupSizeProblem = (info: LooseAdapterInfo | undefined): string | null => {
  const min = info?.subgroupMinSize;
  const max = info?.subgroupMaxSize;
  if (min === undefined || max === undefined) return null; // not reported: trust the feature
  return min === 32 && max === 32 ? null : `subgroup size ${min}..${max}, the kernel needs exactly 32`;
};

/** The matmul capabilities of `device`: the probed ones when registered, else {@link unprobed}. */
export function matmulCaps(device: GPUDevice): MatmulCaps {
  let caps = registered.get(device);
  if (!caps) {
    caps = unprobed(device);
    registered.set(device, caps);
  }
  return caps;
}

const SYNTAXES: readonly SgMatSyntax[] = [
  { builtins: 'template', diagnostic: 'chromium' },
  { builtins: 'legacy', diagnostic: 'chromium' },
  { builtins: 'template', diagnostic: 'chromium_experimental' },
  { builtins: 'legacy', diagnostic: 'chromium_experimental' },
];

/** One probe problem: sizes, storage order of A and B, and the load paths that order gives. */
interface ProbeCase {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A stored [K, M] (column-major loads) instead of [M, K]; B stored [N, K] instead of [K, N]. */
  readonly aT: boolean;
  readonly bT: boolean;
}
// Full tiles with row-major loads and direct stores; edge tiles with column-major loads and the scratch path.
const CASES: readonly ProbeCase[] = [
  { m: 32, n: 32, k: 64, aT: false, bT: false },
  { m: 20, n: 24, k: 40, aT: true, bT: true },
];

const probeParams = (shape: SgMatShape, syntax: SgMatSyntax, c: ProbeCase): SgMatmulParams => ({
  aDtype: 'f16',
  bDtype: 'f16',
  outDtype: 'f32',
  aLoad: c.aT ? 'm4' : 'k4',
  bLoad: c.bT ? 'k4' : 'n4',
  shape,
  sgM: 1,
  sgN: 1,
  tilesM: 2,
  tilesN: 32 / shape.n,
  bk: 32,
  directStore: c.n % 4 === 0,
  doubleBuffer: false,
  syntax,
});

/** Small exact-in-f16 values so that the GPU result must match the f64 one. */
const probeValue = (i: number, salt: number): number => (((i * 7 + salt) % 9) - 4) / 4;

async function runCase(device: GPUDevice, pipeline: GPUComputePipeline, c: ProbeCase): Promise<number> {
  const { m, n, k } = c;
  const a = Array.from({ length: m * k }, (_, i) => probeValue(i, 1));
  const b = Array.from({ length: k * n }, (_, i) => probeValue(i, 5));
  const upload = (values: number[]): GPUBuffer => {
    const halves = new Uint16Array(Math.ceil(values.length / 4) * 4);
    values.forEach((v, i) => {
      halves[i] = f32ToF16Bits(v);
    });
    const buffer = device.createBuffer({ size: halves.byteLength, usage: 0x80 | 0x8 }); // STORAGE | COPY_DST
    device.queue.writeBuffer(buffer, 0, halves);
    return buffer;
  };
  // a[i][q] / b[q][j] in logical order, stored transposed when asked.
  const aStore = c.aT ? Array.from({ length: m * k }, (_, x) => a[(x % m) * k + Math.floor(x / m)]!) : a;
  const bStore = c.bT ? Array.from({ length: k * n }, (_, x) => b[(x % k) * n + Math.floor(x / k)]!) : b;
  const ab = upload(aStore);
  const bb = upload(bStore);
  const cb = device.createBuffer({ size: m * n * 4, usage: 0x80 | 0x4 }); // STORAGE | COPY_SRC
  const ub = device.createBuffer({ size: matmulUniforms.byteSize, usage: 0x40 | 0x8 }); // UNIFORM | COPY_DST
  device.queue.writeBuffer(
    ub,
    0,
    matmulUniforms.pack({
      M: m,
      N: n,
      K: k,
      aRow: c.aT ? 1 : k,
      aCol: c.aT ? m : 1,
      bRow: c.bT ? 1 : n,
      bCol: c.bT ? k : 1,
    }),
  );
  const staging = device.createBuffer({ size: m * n * 4, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [ub, ab, bb, cb].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.ceil(n / 32), Math.ceil(m / 32), 1);
  pass.end();
  encoder.copyBufferToBuffer(cb, 0, staging, 0, m * n * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(0x1);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  for (const x of [ab, bb, cb, ub, staging]) x.destroy();
  let worst = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q]! * b[q * n + j]!;
      worst = Math.max(worst, Math.abs(out[i * n + j]! - s));
    }
  return worst;
}

/** Compiles the probe kernel of every case with `syntax`; the pipelines, or the first error. */
async function compile(
  device: GPUDevice,
  shape: SgMatShape,
  syntax: SgMatSyntax,
): Promise<{ pipelines: GPUComputePipeline[]; warnings: string[] } | { error: string }> {
  const pipelines: GPUComputePipeline[] = [];
  const warnings: string[] = [];
  for (const c of CASES) {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({
      code: sgmatWgsl(probeParams(shape, syntax, c)),
      label: 'sgmat-probe',
    });
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
    });
    const error = await device.popErrorScope();
    const info = await module.getCompilationInfo().catch(() => null);
    const messages = info?.messages ?? [];
    if (error) {
      const first = messages.find((x) => x.type === 'error');
      return { error: first ? `line ${first.lineNum}: ${first.message}` : error.message.split('\n')[0]! };
    }
    for (const x of messages) if (x.type === 'warning') warnings.push(x.message);
    pipelines.push(pipeline);
  }
  return { pipelines, warnings: [...new Set(warnings)] };
}

/**
 * Probes the subgroup-matrix path of a device: picks the f16 -> f32 shape,
 * finds the builtin spelling this Dawn compiles (`SYNTAXES` in order), and
 * runs two small matmuls (row- and column-major loads, direct and scratch
 * stores) against an exact reference. Registers and returns the result; any
 * failure leaves `subgroupMatrix` null with the reason in the note.
 */
export async function probeMatmulCaps(device: GPUDevice, adapterInfo: unknown): Promise<MatmulCaps> {
  const base = unprobed(device);
  const configs = subgroupMatrixConfigs(adapterInfo);
  const shape = pickShape(configs);
  const sizeNote = subgroupSizeProblem(adapterInfo as LooseAdapterInfo);
  let caps: MatmulCaps;
  if (!device.features.has(SUBGROUP_MATRIX_FEATURE) || !base.shaderF16) caps = base;
  else if (!shape)
    caps = { ...base, subgroupMatrix: null, subgroupMatrixNote: 'no f16 -> f32 config with M = 16' };
  else if (sizeNote) caps = { ...base, subgroupMatrix: null, subgroupMatrixNote: sizeNote };
  else {
    const failures: string[] = [];
    caps = { ...base, subgroupMatrix: null, subgroupMatrixNote: '' };
    for (const syntax of SYNTAXES) {
      const compiled = await compile(device, shape, syntax);
      const tag = `${syntax.builtins}/${syntax.diagnostic}`;
      if ('error' in compiled) {
        failures.push(`${tag}: ${compiled.error}`);
        continue;
      }
      const errors: number[] = [];
      for (let i = 0; i < CASES.length; i++)
        errors.push(await runCase(device, compiled.pipelines[i]!, CASES[i]!));
      const worst = Math.max(...errors);
      if (!(worst <= 1e-3)) {
        failures.push(`${tag}: compiles but computes wrong results (max abs error ${worst})`);
        continue;
      }
      const warn = compiled.warnings.length ? `; warnings: ${compiled.warnings.join(' | ')}` : '';
      caps = {
        ...base,
        subgroupMatrix: { shape, syntax, configs },
        subgroupMatrixNote: `probed: ${tag} ${shape.m}x${shape.n}x${shape.k} exact on 2 cases${warn}${failures.length ? `; rejected ${failures.join('; ')}` : ''}`,
      };
      break;
    }
    if (!caps.subgroupMatrix) caps = { ...caps, subgroupMatrixNote: `probe failed: ${failures.join('; ')}` };
  }
  registerMatmulCaps(device, caps);
  return caps;
}
