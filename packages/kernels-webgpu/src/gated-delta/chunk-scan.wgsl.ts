import { Uniforms } from '../common/uniforms.js';

/**
 * WGSL of the fused gated-delta chunk scan. One thread per (batch·head,
 * value column j): the columns of the state `S ∈ R^{K×V}` evolve
 * independently, so each thread keeps its column `S[:, j]` (K floats) and the
 * chunk's corrections `u[:, j]` (Q floats) in private memory and walks the
 * chunks in order (forward) or in reverse (backward). The per-chunk matrices
 * W, Qd, P, Kd are the same for every column of a head (broadcast reads).
 *
 * Layouts (contiguous f32): per-chunk tensors `[BH, nC, Q, ·]`, states
 * `[BH, nC+1, K, V]`, `aux = [g (BH·nC) ‖ S0 or dS_final (BH·K·V)]`.
 * Eight storage buffers at most (the WebGPU default limit).
 */

export const WORKGROUP = 64;

export const chunkScanUniforms = new Uniforms([
  ['BH', 'u32'],
  ['nC', 'u32'],
  ['V', 'u32'],
  ['total', 'u32'],
  ['gridX', 'u32'],
]);

/** Compile-time sizes: K (key head size) and Q (chunk size). */
export interface ChunkScanKernelParams {
  readonly K: number;
  readonly Q: number;
}

export const chunkScanForwardKey = (p: ChunkScanKernelParams): string =>
  `gdn.chunkScan.fwd|K=${p.K}|Q=${p.Q}|wg=${WORKGROUP}`;
export const chunkScanBackwardKey = (p: ChunkScanKernelParams): string =>
  `gdn.chunkScan.bwd|K=${p.K}|Q=${p.Q}|wg=${WORKGROUP}`;

const storage = (binding: number, name: string, write = false) =>
  `@group(0) @binding(${binding}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;

const header = (p: ChunkScanKernelParams) => `${chunkScanUniforms.wgsl}
const K: u32 = ${p.K}u;
const Q: u32 = ${p.Q}u;`;

const threadIndex = `let idx = (wid.x + wid.y * u.gridX) * ${WORKGROUP}u + lid;
  if (idx >= u.total) { return; }
  let V = u.V;
  let nC = u.nC;
  let bh = idx / V;
  let j = idx % V;`;

/**
 * Forward: `u = U − W S`, `o = Qd S + P u` (P lower-triangular), `S ← g S + Kdᵀ u`.
 * Writes `ou = [o ‖ u]` (each `[BH, nC, Q, V]`) and every entering state plus the final one.
 */
export const chunkScanForwardWgsl = (p: ChunkScanKernelParams): string => `${header(p)}
${storage(1, 'Um')}
${storage(2, 'Wm')}
${storage(3, 'Qd')}
${storage(4, 'Pm')}
${storage(5, 'Kd')}
${storage(6, 'aux')}
${storage(7, 'ou', true)}
${storage(8, 'states', true)}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${threadIndex}
  let uOffset = u.BH * nC * Q * V;
  let s0Offset = u.BH * nC;
  var s: array<f32, ${p.K}>;
  var uu: array<f32, ${p.Q}>;
  for (var k = 0u; k < K; k++) { s[k] = aux[s0Offset + (bh * K + k) * V + j]; }
  for (var c = 0u; c < nC; c++) {
    let chunk = bh * nC + c;
    let rows = chunk * Q;
    let entering = (bh * (nC + 1u) + c) * K;
    for (var k = 0u; k < K; k++) { states[(entering + k) * V + j] = s[k]; }
    for (var i = 0u; i < Q; i++) {
      var acc = Um[(rows + i) * V + j];
      let w = (rows + i) * K;
      for (var k = 0u; k < K; k++) { acc -= Wm[w + k] * s[k]; }
      uu[i] = acc;
      ou[uOffset + (rows + i) * V + j] = acc;
    }
    for (var i = 0u; i < Q; i++) {
      var acc = 0.0;
      let q = (rows + i) * K;
      for (var k = 0u; k < K; k++) { acc += Qd[q + k] * s[k]; }
      let pr = (rows + i) * Q;
      for (var l = 0u; l <= i; l++) { acc += Pm[pr + l] * uu[l]; }
      ou[(rows + i) * V + j] = acc;
    }
    let g = aux[chunk];
    for (var k = 0u; k < K; k++) {
      var acc = g * s[k];
      for (var i = 0u; i < Q; i++) { acc += Kd[(rows + i) * K + k] * uu[i]; }
      s[k] = acc;
    }
  }
  let last = (bh * (nC + 1u) + nC) * K;
  for (var k = 0u; k < K; k++) { states[(last + k) * V + j] = s[k]; }
}
`;

/**
 * Backward, chunks in reverse, with dS the gradient of the state after the
 * chunk: `du = Pᵀ do + Kd dS`, then `dS ← Qdᵀ do + g dS − Wᵀ du`. Writes
 * `du [BH, nC, Q, V]` and `ds = [dS after each chunk (BH, nC, K, V) ‖ dS0 (BH, K, V)]`;
 * the reductions over columns (dW, dQd, dP, dKd, dg) are batched matmuls afterwards.
 */
export const chunkScanBackwardWgsl = (p: ChunkScanKernelParams): string => `${header(p)}
${storage(1, 'dO')}
${storage(2, 'Pm')}
${storage(3, 'Kd')}
${storage(4, 'Qd')}
${storage(5, 'Wm')}
${storage(6, 'aux')}
${storage(7, 'dU', true)}
${storage(8, 'ds', true)}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${threadIndex}
  let finalOffset = u.BH * nC;
  var dS: array<f32, ${p.K}>;
  var du: array<f32, ${p.Q}>;
  var dob: array<f32, ${p.Q}>;
  for (var k = 0u; k < K; k++) { dS[k] = aux[finalOffset + (bh * K + k) * V + j]; }
  for (var back = 0u; back < nC; back++) {
    let chunk = bh * nC + (nC - 1u - back);
    let rows = chunk * Q;
    for (var k = 0u; k < K; k++) { ds[(chunk * K + k) * V + j] = dS[k]; }
    for (var i = 0u; i < Q; i++) { dob[i] = dO[(rows + i) * V + j]; }
    for (var i = 0u; i < Q; i++) {
      var acc = 0.0;
      for (var l = i; l < Q; l++) { acc += Pm[(rows + l) * Q + i] * dob[l]; }
      let kr = (rows + i) * K;
      for (var k = 0u; k < K; k++) { acc += Kd[kr + k] * dS[k]; }
      du[i] = acc;
      dU[(rows + i) * V + j] = acc;
    }
    let g = aux[chunk];
    for (var k = 0u; k < K; k++) {
      var acc = g * dS[k];
      for (var i = 0u; i < Q; i++) { acc += Qd[(rows + i) * K + k] * dob[i] - Wm[(rows + i) * K + k] * du[i]; }
      dS[k] = acc;
    }
  }
  let s0Offset = u.BH * nC * K * V;
  for (var k = 0u; k < K; k++) { ds[s0Offset + (bh * K + k) * V + j] = dS[k]; }
}
`;
