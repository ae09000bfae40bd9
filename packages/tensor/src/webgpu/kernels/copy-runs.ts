import type { DType } from '../../dtype.js';
import { slotOfWorkgroup, slotsPerDispatch } from '../multi-slot.js';
import type { GpuRuntime } from '../runtime.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

/**
 * Several contiguous copies in one dispatch (`Backend.copyRuns`): `gather`
 * copies K runs, each from its own buffer, into one shared buffer (`concat`
 * along a leading axis, the fused linears' weight concatenation); `scatter`
 * copies K runs of one shared buffer into a buffer each (a split into owned
 * gradients). Run k owns workgroups [first_k, first_{k+1}), one element per
 * thread, or one vec4 where every run of the dispatch starts and ends on a
 * vec4 boundary in both buffers (as the elementwise copy does); WGSL cannot
 * index bindings, so each run is a `switch` case naming its binding. Copies
 * are bit-exact: 4-byte dtypes move as u32, f16 as f16 (its runs may start at
 * odd elements, so not as u32 pairs). One copy dispatch per piece cost ~12 µs
 * each on the H100, mostly fixed cost.
 */
export type CopyDirection = 'gather' | 'scatter';

const WORKGROUP = 256;

/** Runs per dispatch: one binding each besides the shared one, at most 15 (the H100 and llvmpipe bind 16). */
export const maxCopyRuns = (rt: GpuRuntime): number => slotsPerDispatch(rt, 1, 1, 15);

/** The WGSL scalar a copy of `dtype` moves. */
const scalarOf = (dtype: DType): 'u32' | 'f16' => (dtype === 'f16' ? 'f16' : 'u32');

/** `runs` bindings of `scalar` (`vec4`: of `vec4<scalar>`, offsets and lengths in vec4s) and the shared one. */
export const copyRunsWgsl = (
  direction: CopyDirection,
  scalar: 'u32' | 'f16',
  vec4: boolean,
  runs: number,
): string => {
  const gather = direction === 'gather';
  const elem = vec4 ? `vec4<${scalar}>` : scalar;
  const many = Array.from(
    { length: runs },
    (_, k) =>
      `@group(0) @binding(${1 + k}) var<storage, ${gather ? 'read' : 'read_write'}> x${k}: array<${elem}>;`,
  ).join('\n');
  const one = `@group(0) @binding(${1 + runs}) var<storage, ${gather ? 'read_write' : 'read'}> y: array<${elem}>;`;
  const cases = Array.from({ length: runs }, (_, k) => {
    const body = gather
      ? `y[r.sharedOff + i] = x${k}[r.runOff + i];`
      : `x${k}[r.runOff + i] = y[r.sharedOff + i];`;
    return `    ${k === runs - 1 ? 'default' : `case ${k}u`}: { ${body} }`;
  }).join('\n');
  return /* wgsl */ `${enableF16(scalar)}
struct Run { n: u32, runOff: u32, sharedOff: u32, first: u32 }
struct Params { workgroups: u32, pad0: u32, pad1: u32, pad2: u32, runs: array<Run, ${runs}> }
@group(0) @binding(0) var<uniform> u: Params;
${many}
${one}

@compute @workgroup_size(${WORKGROUP})
fn main(${mainParams}) {
  let w = ${linearWorkgroupIndex};
  if (w >= u.workgroups) { return; }
${slotOfWorkgroup(runs, 'u.runs')}
  let r = u.runs[s];
  let i = (w - r.first) * ${WORKGROUP}u + lid;
  if (i >= r.n) { return; }
  switch s {
${cases}
  }
}`;
};

/** One run as the launcher takes it: `length` elements at `offset` of `buffer` and `sharedOffset` of the shared buffer. */
export interface GpuCopyRun {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly sharedOffset: number;
  readonly length: number;
}

/**
 * Dispatches `runs` (non-empty, none binding a buffer that another binding of
 * the same dispatch writes), `maxCopyRuns` per dispatch. `label` starts the
 * pipeline keys (what a dispatch profile groups by).
 */
export function launchCopyRuns(
  rt: GpuRuntime,
  args: {
    readonly direction: CopyDirection;
    readonly dtype: DType;
    readonly shared: GPUBuffer;
    readonly runs: readonly GpuCopyRun[];
    readonly label: string;
  },
): void {
  const { direction, shared, runs, label } = args;
  const scalar = scalarOf(args.dtype);
  const k = maxCopyRuns(rt);
  for (let start = 0; start < runs.length; start += k) {
    const chunk = runs.slice(start, start + k);
    const vec4 = chunk.every((r) => r.offset % 4 === 0 && r.sharedOffset % 4 === 0 && r.length % 4 === 0);
    const width = vec4 ? 4 : 1;
    const u32 = new Uint32Array(4 + 4 * chunk.length);
    let workgroups = 0;
    chunk.forEach((r, j) => {
      const n = r.length / width;
      u32.set([n, r.offset / width, r.sharedOffset / width, workgroups], 4 + 4 * j);
      workgroups += Math.ceil(n / WORKGROUP);
    });
    u32[0] = workgroups;
    rt.dispatch({
      pipelineKey: `${label}|${direction}|${scalar}${vec4 ? 'x4' : ''}|k=${chunk.length}`,
      makeCode: () => copyRunsWgsl(direction, scalar, vec4, chunk.length),
      bindings: [
        ...chunk.map((r) => ({ buffer: r.buffer, write: direction === 'scatter' })),
        { buffer: shared, write: direction === 'gather' },
      ],
      uniforms: u32,
      workgroups,
    });
  }
}
