/**
 * The architecture plugin contract the trainer consumes (owned by
 * `@dynconv/architectures`, `src/spec/v1.ts`).
 */
export type { ArchitectureV1, DecodeState, ModelInput, ModelV1 } from '@dynconv/architectures';
