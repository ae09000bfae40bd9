import { Uniforms } from '../common/uniforms.js';
import { STEP_WORKGROUP, stepMain, stepStorage, stepThreadIndex } from '../linear-scan/step-launch.js';

/**
 * Fused single-token SSD: one thread per (b, h, p), owning the state row
 * `S[b, h, p, :]` (N entries, read once and written once):
 * `S' = exp(dt·A_h)·S + (dt·x_p)·B_g`, `y_p = S'·C_g + D_h·x_p`, g the head's group.
 * `ou = [y (B·H·P) ‖ S' (B·H·P·N)]`.
 */
export const ssdStepUniforms = new Uniforms([
  ['total', 'u32'],
  ['gridX', 'u32'],
  ['H', 'u32'],
  ['P', 'u32'],
  ['G', 'u32'],
]);

export const ssdStepKey = (N: number): string => `ssd.step|N=${N}|wg=${STEP_WORKGROUP}`;

export const ssdStepWgsl = (N: number): string => `${ssdStepUniforms.wgsl}
${stepStorage(1, 'x')}
${stepStorage(2, 'dt')}
${stepStorage(3, 'A')}
${stepStorage(4, 'Bm')}
${stepStorage(5, 'Cm')}
${stepStorage(6, 'Dskip')}
${stepStorage(7, 'S')}
${stepStorage(8, 'ou', true)}
const N: u32 = ${N}u;

@compute @workgroup_size(${STEP_WORKGROUP})
fn main(${stepMain}) {
  ${stepThreadIndex}
  let bh = idx / u.P;
  let h = bh % u.H;
  let b = bh / u.H;
  let group = b * u.G + h / (u.H / u.G);
  let step = dt[bh];
  let decay = exp(step * A[h]);
  let xv = x[idx];
  let input = xv * step;
  let stateOffset = u.total;
  var y = 0.0;
  for (var n = 0u; n < N; n++) {
    let s = decay * S[idx * N + n] + input * Bm[group * N + n];
    ou[stateOffset + idx * N + n] = s;
    y += s * Cm[group * N + n];
  }
  ou[idx] = y + Dskip[h] * xv;
}
`;
