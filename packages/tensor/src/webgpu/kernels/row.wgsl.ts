/**
 * Shared pieces of the one-workgroup-per-row kernels (softmax, cross-entropy,
 * norms, topk): workgroup tree reductions and the workgroup size choice.
 */

/** Threads per row: enough to cover short rows without idling most of them. */
export const rowWorkgroup = (n: number): 64 | 128 | 256 => (n >= 2048 ? 256 : n >= 256 ? 128 : 64);

/**
 * `wg_sum(v)` and `wg_max(v)` over the workgroup (every thread gets the
 * result) and `wg_lse(m, s)` combining per-thread online-softmax states
 * (running max m, sum of exp(x - m)). Call from uniform control flow.
 */
export const workgroupReduceWgsl = (wg: number): string => `
var<private> row_ninf_bits: u32 = 0xff800000u;
fn row_ninf() -> f32 { return bitcast<f32>(row_ninf_bits); }
var<workgroup> wg_red: array<f32, ${wg}>;
var<workgroup> wg_red2: array<f32, ${wg}>;
var<workgroup> wg_out: vec2<f32>;
// Thread 0 publishes the tree's result; workgroupUniformLoad (a barrier plus a
// uniform load) hands it to every thread. A plain read of wg_red[0] after a
// barrier returned stale partial sums on llvmpipe.
fn wg_publish(r: vec2<f32>, lid: u32) -> vec2<f32> {
  if (lid == 0u) { wg_out = r; }
  return workgroupUniformLoad(&wg_out);
}
fn wg_sum(v: f32, lid: u32) -> f32 {
  wg_red[lid] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { wg_red[lid] = wg_red[lid] + wg_red[lid + s]; }
    workgroupBarrier();
  }
  return wg_publish(vec2<f32>(wg_red[0], 0.0), lid).x;
}
fn wg_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  wg_red[lid] = v.x;
  wg_red2[lid] = v.y;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wg_red[lid] = wg_red[lid] + wg_red[lid + s];
      wg_red2[lid] = wg_red2[lid] + wg_red2[lid + s];
    }
    workgroupBarrier();
  }
  return wg_publish(vec2<f32>(wg_red[0], wg_red2[0]), lid);
}
fn lse_combine(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  if (m == row_ninf()) { return vec2<f32>(m, 0.0); }
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
fn lse_push(st: vec2<f32>, x: f32) -> vec2<f32> {
  if (x > st.x) { return vec2<f32>(x, st.y * exp(st.x - x) + 1.0); }
  if (st.x == row_ninf()) { return st; }
  return vec2<f32>(st.x, st.y + exp(x - st.x));
}
fn wg_lse(st: vec2<f32>, lid: u32) -> vec2<f32> {
  wg_red[lid] = st.x;
  wg_red2[lid] = st.y;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let c = lse_combine(vec2<f32>(wg_red[lid], wg_red2[lid]), vec2<f32>(wg_red[lid + s], wg_red2[lid + s]));
      wg_red[lid] = c.x;
      wg_red2[lid] = c.y;
    }
    workgroupBarrier();
  }
  return wg_publish(vec2<f32>(wg_red[0], wg_red2[0]), lid);
}`;

/** Loads element `index` of a binding as f32. */
export const loadF32 = (binding: string, dtype: string, index: string): string =>
  dtype === 'f32' ? `${binding}[${index}]` : `f32(${binding}[${index}])`;
