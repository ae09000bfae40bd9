/**
 * The sequence kernels the layers call, from `@dynconv/kernels-webgpu`
 * (fused WGSL on WebGPU, composed reference ops elsewhere). Re-exported in one
 * place so that layers depend on a single, named seam.
 */
export {
  type CausalAttentionOptions,
  causalAttention,
  dynamicConvHeadwise,
  dynamicConvHeadwiseStep,
  dynamicConvLowRank,
  dynamicConvLowRankPacked,
  dynamicConvLowRankPackedSupported,
  dynamicConvLowRankStep,
  shortConv,
  shortConvStep,
} from '@dynconv/kernels-webgpu';
