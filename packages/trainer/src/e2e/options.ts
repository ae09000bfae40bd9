import { decodeConfig, type TransformerConfig, transformer } from '@dynconv/architectures';

/** Which model: the plain Llama-style transformer, or the same with DSC on Q/K/V. */
export type E2eVariant = 'plain' | 'dsc';
/** `f32` everywhere, or `mixed`: f16 tensor-core matmuls (f32 accumulation), f32 master weights, loss scaling. */
export type E2eMode = 'f32' | 'mixed';

/** The model and the measurement of `dynconv bench e2e` (defaults: the GPT-2-small-sized model). */
export interface E2eOptions {
  readonly layers: number;
  readonly dModel: number;
  readonly heads: number;
  readonly mlpHidden: number;
  readonly vocab: number;
  /** Sequences per step (halved once when the full batch fails, e.g. out of memory). */
  readonly batch: number;
  readonly seqLen: number;
  /** Timed steps after `warmup` untimed ones. */
  readonly steps: number;
  readonly warmup: number;
  readonly variants: readonly E2eVariant[];
  readonly modes: readonly E2eMode[];
  /**
   * Read loss and norm back in every step and decide clipping and loss
   * scaling on the host (the session-3 loop), instead of on the GPU with
   * `DeviceStepControl` and records read `inFlight` steps later.
   */
  readonly hostSync: boolean;
  readonly inFlight: number;
  /** After the timed steps, one more with every dispatch timed on the GPU (needs `timestamp-query`). */
  readonly profile: boolean;
  /** Start no new configuration after this many seconds. */
  readonly budgetS: number;
}

export const E2E_DEFAULTS: E2eOptions = {
  layers: 12,
  dModel: 768,
  heads: 12,
  mlpHidden: 2048,
  vocab: 50304,
  batch: 8,
  seqLen: 1024,
  steps: 8,
  warmup: 1,
  variants: ['plain', 'dsc'],
  modes: ['f32', 'mixed'],
  hostSync: false,
  inFlight: 2,
  profile: false,
  budgetS: 240,
};

/** Every problem of `o`, with its field name (empty when valid). */
export function e2eProblems(o: E2eOptions): string[] {
  const problems: string[] = [];
  const positive = ['layers', 'dModel', 'heads', 'mlpHidden', 'vocab', 'batch', 'seqLen', 'steps'] as const;
  for (const k of positive)
    if (!Number.isInteger(o[k]) || o[k] < 1) problems.push(`${k}: must be a positive integer, got ${o[k]}`);
  for (const k of ['warmup', 'inFlight'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 0) problems.push(`${k}: must be an integer >= 0, got ${o[k]}`);
  if (Number.isInteger(o.dModel) && Number.isInteger(o.heads) && o.heads > 0 && o.dModel % o.heads !== 0)
    problems.push(`heads: ${o.heads} does not divide dModel ${o.dModel}`);
  if (o.variants.length === 0) problems.push('variants: at least one of plain, dsc');
  for (const v of o.variants) if (v !== 'plain' && v !== 'dsc') problems.push(`variants: unknown '${v}'`);
  if (o.modes.length === 0) problems.push('modes: at least one of f32, mixed');
  for (const m of o.modes) if (m !== 'f32' && m !== 'mixed') problems.push(`modes: unknown '${m}'`);
  return problems;
}

/** The transformer config of a variant (untied head, no biases; DSC: low-rank dynamic convs on Q/K/V). */
export const e2eModelConfig = (o: E2eOptions, variant: E2eVariant): TransformerConfig =>
  decodeConfig(transformer.configSchema, {
    nLayers: o.layers,
    dModel: o.dModel,
    nHeads: o.heads,
    mlpHidden: o.mlpHidden,
    vocabSize: o.vocab,
    tieEmbeddings: false,
    ...(variant === 'dsc' ? { conv: 'dynamic-qkv' } : {}),
  });

/** Deterministic token ids (a fixed batch: data loading is not what is timed). */
export const e2eTokenIds = (n: number, vocab: number, salt: number): Int32Array => {
  const out = new Int32Array(n);
  let s = 0x9e3779b9 ^ salt;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % vocab;
  }
  return out;
};
