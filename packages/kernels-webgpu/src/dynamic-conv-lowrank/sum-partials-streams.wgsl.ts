import { Uniforms } from '../common/uniforms.js';
import {
  type BindingDecl,
  bindingDecls,
  forEachStream,
  type StreamSet,
  streamLets,
} from '../conv-core/conv-layout.js';
import { MAX_PACKED_STREAMS } from './packed-layout.js';

/**
 * The partial-sum pass (common/sum-partials.wgsl.ts: `Σ_p part[p, n]` over f32
 * partials `[P, N]`, summed in the order p = 0..P-1, so bitwise the same sums)
 * for the partials of several streams, `[streams, P, N]`, in one dispatch
 * (grid z: the stream). Where item n of stream i goes:
 * - 'packed': item n = row·cols + col to `out[row * stride + zOff_i + col]`
 *   (dz straight into the packed gradient, one buffer for all streams);
 * - 'split': n < split to stream i's `out`, the rest to its `out2` (dU and dS,
 *   each a buffer of its own: the fused AdamW takes whole buffers);
 * - 'whole': to stream i's `out`.
 */
export type SumStreamsTarget = 'packed' | 'split' | 'whole';

export const sumStreamsUniforms = new Uniforms([
  ['N', 'u32'],
  ['P', 'u32'],
  ['gridX', 'u32'],
  ['split', 'u32'],
  ['cols', 'u32'],
  ['stride', 'u32'],
  ...Array.from({ length: MAX_PACKED_STREAMS }, (_, i) => [`zOff${i}`, 'u32'] as const),
]);

export const SUM_STREAMS_WORKGROUP = 128;

export const sumStreamsKey = (dtype: 'f32' | 'f16', target: SumStreamsTarget, streams: number): string =>
  `dynamicConvLowRank.sumStreams|${dtype}|${target}|streams=${streams}|wg=${SUM_STREAMS_WORKGROUP}`;

/** Bindings after `part`: the packed `out`, or `out` (and `out2`) once per stream. */
export function sumStreamsWgsl(dtype: 'f32' | 'f16', target: SumStreamsTarget, streams: number): string {
  const set: StreamSet = { streams, perStream: target === 'packed' ? [] : ['out', 'out2'] };
  const bindings: BindingDecl[] = [
    ['part', 'f32', false],
    ['out', dtype, true],
    ...(target === 'split' ? [['out2', dtype, true] as const] : []),
  ];
  const write =
    target === 'packed'
      ? `${streamLets(set, [{ name: 'zOff', type: 'u32', value: (_, s) => `u.zOff${s}` }], '\n  ')}
  out[(n / u.cols) * u.stride + zOff + n % u.cols] = v;`
      : forEachStream(
          set,
          (b) =>
            target === 'split'
              ? `if (n < u.split) { ${b('out')}[n] = v; } else { ${b('out2')}[n - u.split] = v; }`
              : `${b('out')}[n] = v;`,
          '\n  ',
        );
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${sumStreamsUniforms.wgsl}
${bindingDecls(set, bindings)}

@compute @workgroup_size(${SUM_STREAMS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let stream = wid.z;
  let n = (wid.x + wid.y * u.gridX) * ${SUM_STREAMS_WORKGROUP}u + lid;
  if (n >= u.N) { return; }
  let base = stream * u.P * u.N;
  var acc = 0.0;
  for (var p = 0u; p < u.P; p++) { acc += part[base + p * u.N + n]; }
  let v = ${dtype}(acc);
  ${write}
}`;
}
