/**
 * @dynconv/kernels-webgpu — the research operators of dynconv: static and
 * dynamic short convolutions (DSC) and causal attention. Each is a
 * differentiable op on every backend; on WebGPU the fused kernels run.
 * Browser-safe: imports nothing Node-only.
 */
export { type CausalAttentionOptions, causalAttention } from './causal-attention/causal-attention.js';
export { MAX_RANK, MAX_WIDTH } from './common/validate.js';
export {
  type ConvStepResult,
  type DynamicConvStepOptions,
  dynamicConvHeadwiseStep,
  dynamicConvLowRankStep,
  type ShortConvStepOptions,
  shortConvStep,
} from './decode/conv-step.js';
export {
  type DynamicConvOptions,
  dynamicConvHeadwise,
} from './dynamic-conv-headwise/dynamic-conv-headwise.js';
export { dynamicConvLowRank } from './dynamic-conv-lowrank/dynamic-conv-lowrank.js';
export {
  dynamicConvLowRankPacked,
  dynamicConvLowRankPackedSupported,
} from './dynamic-conv-lowrank/dynamic-conv-lowrank-packed.js';
export type {
  PackedLowRankOptions,
  PackedLowRankStream,
} from './dynamic-conv-lowrank/dynamic-conv-lowrank-packed.ref.js';
export * from './linear-mixers.js';
export { type CapacityGroupPlan, planCapacityGroups } from './moe/capacity-plan.js';
export { combineGroups, type GroupPlan, gatherTokens, planGroups } from './moe/group-plan.js';
export { type GroupedMatmulOptions, groupedMatmul, groupedMatmulSupported } from './moe/grouped-matmul.js';
export { groupedMatmulRef } from './moe/grouped-matmul.ref.js';
export { groupedSwiGLU } from './moe/moe.js';
export { invertPermutation } from './moe/permutation.js';
export { type ShortConvOptions, shortConv } from './short-conv/short-conv.js';
