/**
 * The on-disk layout of one checkpoint folder, `step-00000100/`:
 *
 * - `model.safetensors`: parameters under their Hugging Face names;
 * - `optimizer.safetensors`: AdamW moments as `exp_avg/<name>` and `exp_avg_sq/<name>`;
 * - `state.json`: {@link CheckpointState} (step, configs, data cursor, RNG, counters);
 * - `manifest.json`: size and SHA-256 of the three files above. Written last:
 *   a folder without it is incomplete, one whose files do not match it is corrupt.
 */

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';
export const MANIFEST_FILE = 'manifest.json';
export const CHECKPOINT_FORMAT = 'dynconv.checkpoint';
export const CHECKPOINT_VERSION = 1;

/** Folder name of the checkpoint at `step` (zero-padded so names sort by step). */
export const checkpointName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

/** The step of a checkpoint folder name, or null for other names. */
export const stepOfName = (name: string): number | null => {
  const m = /^step-(\d{8,})$/.exec(name);
  return m ? Number(m[1]) : null;
};

/** Everything besides tensors that a resumed run needs. Plain JSON. */
export interface CheckpointState {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof CHECKPOINT_VERSION;
  /** Optimizer steps completed. */
  readonly step: number;
  readonly architecture: string;
  /** The plugin config as decoded (defaults filled). */
  readonly modelConfig: unknown;
  /** The resolved run config. */
  readonly runConfig: unknown;
  /** AdamW steps taken (differs from `step` when steps were skipped). */
  readonly optimizerStep: number;
  /** Data loader cursor of the next batch. */
  readonly dataCursor: unknown;
  /** State of the tensor package's default generator (dropout and other random ops). */
  readonly rng: { readonly seed: number; readonly offset: number };
  /** Non-finite step counters. */
  readonly nonFinite: { readonly consecutive: number; readonly skipped: number };
  readonly tokensSeen: number;
  /** Training time so far (resumed runs continue the clock). */
  readonly elapsedMs: number;
  /** The latest evaluation at or before this step, if any. */
  readonly lastEval: { readonly step: number; readonly loss: number; readonly accuracy: number } | null;
  readonly bestEvalLoss: number | null;
  /** Mixed precision: the dynamic loss scale and its finite-step count (absent in f32 runs and older checkpoints). */
  readonly lossScale?: { readonly scale: number; readonly goodSteps: number };
  readonly createdAt: string;
}

/** `manifest.json`: what a complete checkpoint holds. */
export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof CHECKPOINT_VERSION;
  readonly step: number;
  readonly files: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
}

/** `best.json` beside the checkpoint folders: which step had the lowest eval loss. */
export interface BestPointer {
  readonly step: number;
  readonly evalLoss: number;
}
