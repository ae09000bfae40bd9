import {
  STEP_WORKGROUP,
  stepMain,
  stepStorage,
  stepThreadIndex,
  stepUniforms,
} from '../linear-scan/step-launch.js';

/**
 * Fused single-token GLA: one thread per (b·h, value column j):
 * `S'[i, j] = exp(gk_i)·S[i, j] + k_i·v_j`, `o_j = scale·Σ_i q_i S'[i, j]`.
 * `u.inner` = V; `ou = [o (BH·V) ‖ S' (BH·K·V)]`.
 */
export const glaStepKey = (K: number): string => `gla.step|K=${K}|wg=${STEP_WORKGROUP}`;

export const glaStepWgsl = (K: number): string => `${stepUniforms.wgsl}
${stepStorage(1, 'q')}
${stepStorage(2, 'k')}
${stepStorage(3, 'v')}
${stepStorage(4, 'gk')}
${stepStorage(5, 'S')}
${stepStorage(6, 'ou', true)}
const K: u32 = ${K}u;

@compute @workgroup_size(${STEP_WORKGROUP})
fn main(${stepMain}) {
  ${stepThreadIndex}
  let V = u.inner;
  let bh = idx / V;
  let j = idx % V;
  let vj = v[bh * V + j];
  let stateOffset = u.total;
  var o = 0.0;
  for (var i = 0u; i < K; i++) {
    let s = exp(gk[bh * K + i]) * S[(bh * K + i) * V + j] + k[bh * K + i] * vj;
    ou[stateOffset + (bh * K + i) * V + j] = s;
    o += q[bh * K + i] * s;
  }
  ou[idx] = o * u.scale;
}
`;
