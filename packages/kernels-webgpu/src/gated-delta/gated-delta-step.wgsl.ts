import {
  STEP_WORKGROUP,
  stepMain,
  stepStorage,
  stepThreadIndex,
  stepUniforms,
} from '../linear-scan/step-launch.js';

/**
 * Fused single-token gated delta rule: one thread per (b·h, value column j),
 * holding nothing but loop sums — the K entries of `S[:, j]` are read once
 * and written once. `u.inner` = V; `ou = [o (BH·V) ‖ S' (BH·K·V)]`.
 */
export const gatedDeltaStepKey = (K: number): string => `gdn.step|K=${K}|wg=${STEP_WORKGROUP}`;

export const gatedDeltaStepWgsl = (K: number): string => `${stepUniforms.wgsl}
${stepStorage(1, 'q')}
${stepStorage(2, 'k')}
${stepStorage(3, 'v')}
${stepStorage(4, 'g')}
${stepStorage(5, 'beta')}
${stepStorage(6, 'S')}
${stepStorage(7, 'ou', true)}
const K: u32 = ${K}u;

@compute @workgroup_size(${STEP_WORKGROUP})
fn main(${stepMain}) {
  ${stepThreadIndex}
  let V = u.inner;
  let bh = idx / V;
  let j = idx % V;
  let decay = exp(g[bh]);
  var predicted = 0.0;
  for (var i = 0u; i < K; i++) { predicted += k[bh * K + i] * decay * S[(bh * K + i) * V + j]; }
  let corr = beta[bh] * (v[bh * V + j] - predicted);
  let stateOffset = u.total;
  var o = 0.0;
  for (var i = 0u; i < K; i++) {
    let s = decay * S[(bh * K + i) * V + j] + k[bh * K + i] * corr;
    ou[stateOffset + (bh * K + i) * V + j] = s;
    o += q[bh * K + i] * s;
  }
  ou[idx] = o * u.scale;
}
`;
