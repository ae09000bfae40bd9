/**
 * Linear-recurrent mixers (Mamba-2 SSD, gated delta rule, GLA) and the
 * mixture-of-experts layer: chunked training forms, recurrent references and
 * decode steps, all differentiable on every backend. On WebGPU the gated-delta
 * chunk scan (forward + backward) and the three decode steps run as fused WGSL
 * kernels; everything else is composed from tensor ops.
 */
export {
  type DeltaChunkScanInputs,
  type DeltaChunkScanResult,
  deltaChunkScan,
  FUSED_MAX_K,
  FUSED_MAX_Q,
} from './gated-delta/chunk-scan.js';
export { deltaChunkScanRef } from './gated-delta/chunk-scan.ref.js';
export {
  checkGatedDeltaArgs,
  type GatedDeltaOptions,
  type GatedDeltaResult,
  gatedDeltaRule,
} from './gated-delta/gated-delta.js';
export { gatedDeltaRecurrentRef } from './gated-delta/gated-delta.ref.js';
export { type GatedDeltaStepResult, gatedDeltaStep } from './gated-delta/gated-delta-step.js';
export { utTransform } from './gated-delta/ut-transform.js';
export { checkGlaArgs, type GlaOptions, type GlaResult, gla } from './gla/gla.js';
export { glaRecurrentRef } from './gla/gla.ref.js';
export { type GlaStepResult, glaStep } from './gla/gla-step.js';
export { RESET_LOG_DECAY } from './linear-scan/reset.js';
export { MAX_CHUNK_SIZE } from './linear-scan/validate.js';
export { routedMask, routerZLoss, switchLoadBalancingLoss } from './moe/aux-losses.js';
export {
  combineTokens,
  type DispatchPlan,
  dispatchTokens,
  expertCapacity,
  planDispatch,
} from './moe/dispatch.js';
export {
  checkMoeArgs,
  type ExpertWeights,
  expertsSwiGLU,
  type MoeOptions,
  type MoeResult,
  moe,
} from './moe/moe.js';
export { moeDenseRef } from './moe/moe.ref.js';
export { moeRoute, type RouterOptions, type Routing } from './moe/router.js';
export { checkSsdArgs, type SsdOptions, type SsdResult, ssd } from './ssd/ssd.js';
export { ssdRecurrentRef } from './ssd/ssd.ref.js';
export { type SsdStepResult, ssdStep } from './ssd/ssd-step.js';
