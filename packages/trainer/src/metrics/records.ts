/**
 * The records a run emits, one JSON object per line of `<runDir>/metrics.jsonl`.
 * `dynconv report` reads them back.
 */

export interface StartRecord {
  readonly type: 'start';
  readonly time: string;
  readonly name: string;
  readonly architecture: string;
  readonly parameters: number;
  readonly device: string;
  readonly data: string;
  readonly steps: number;
  readonly tokensPerStep: number;
  /** Step the run resumed from (0 for a fresh run). */
  readonly fromStep: number;
}

export interface TrainRecord {
  readonly type: 'train';
  readonly step: number;
  /** Mean cross-entropy over the step's labeled tokens. */
  readonly loss: number;
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly tokens: number;
  readonly tokensPerSec: number;
  readonly elapsedMs: number;
  /** Mixed precision: the loss scale this step's backward used. */
  readonly lossScale?: number;
}

export interface SkipRecord {
  readonly type: 'skip';
  readonly step: number;
  readonly loss: number;
  readonly gradNorm: number;
  readonly consecutive: number;
  readonly skipped: number;
}

export interface EvalRecord {
  readonly type: 'eval';
  readonly step: number;
  readonly loss: number;
  readonly perplexity: number;
  /** Accuracy on labeled positions (MQAR: recall accuracy on the queries). */
  readonly accuracy: number;
  readonly elapsedMs: number;
}

export interface CheckpointRecord {
  readonly type: 'checkpoint';
  readonly step: number;
  readonly path: string;
}

export interface EndRecord {
  readonly type: 'end';
  readonly step: number;
  readonly reason: 'completed' | 'stopped' | 'interrupted' | 'diverged';
  readonly elapsedMs: number;
  readonly tokensPerSec: number;
}

export type MetricRecord = StartRecord | TrainRecord | SkipRecord | EvalRecord | CheckpointRecord | EndRecord;
